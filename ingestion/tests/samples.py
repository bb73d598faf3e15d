"""Small Binance futures messages for the suite that runs without ../shared/data (values from real captures)."""

AGG_TRADE = (
    b'{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1616202009196,"a":389551486,"s":"BTCUSDT",'
    b'"p":"58665.00","q":"0.043","f":621622993,"l":621622993,"T":1616202009188,"m":false}}'
)
TRADE = (
    b'{"stream":"btcusdt@trade","data":{"e":"trade","E":1723161256322,"T":1723161256322,"s":"BTCUSDT",'
    b'"t":5266583935,"p":"61800.30","q":"0.006","X":"MARKET","m":false}}'
)
KLINE = (
    b'{"stream":"ctkusdt@kline_1m","data":{"e":"kline","E":1626992741424,"s":"CTKUSDT","k":{"t":1626992700000,'
    b'"T":1626992759999,"s":"CTKUSDT","i":"1m","f":23961275,"L":23961322,"o":"1.01000","c":"1.01100",'
    b'"h":"1.01100","l":"1.01000","v":"3917","n":48,"x":false,"q":"3957.89900","V":"1729","Q":"1748.01900","B":"0"}}}'
)
DEPTH_DIFF = (
    b'{"stream":"sushiusdt@depth@100ms","data":{"e":"depthUpdate","E":1626992741037,"T":1626992741024,'
    b'"s":"SUSHIUSDT","U":600859599090,"u":600859600917,"pu":600859598061,"b":[["7.5040","813"],["7.6090","0"]],'
    b'"a":[["7.6150","1563"]]}}'
)
MARK_PRICE = (
    b'{"stream":"btcusdt@markPrice","data":{"e":"markPriceUpdate","E":1617308820003,"s":"BTCUSDT",'
    b'"p":"58940.14924532","P":"58905.14663658","i":"58857.26693664","r":"0.00058455","T":1617321600000}}'
)
TICKER = (
    b'{"stream":"ethusdt@ticker","data":{"e":"24hrTicker","E":1653815205866,"s":"ETHUSDT","p":"24.69","P":"1.405",'
    b'"w":"1782.01","c":"1782.02","Q":"0.003","o":"1757.33","h":"1809.33","l":"1750.45","v":"1678290.411",'
    b'"q":"2990736920.72","O":1653728760000,"C":1653815205856,"F":1689354205,"L":1691266554,"n":1912297}}'
)
BOOK_TICKER = (
    b'{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20",'
    b'"B":"2.507","a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}}'
)
FORCE_ORDER = (
    b'{"stream":"!forceOrder@arr","data":{"e":"forceOrder","E":1634653599186,"o":{"s":"IOTXUSDT","S":"SELL",'
    b'"o":"LIMIT","f":"IOC","q":"3661","p":"0.06606","ap":"0.06669","X":"FILLED","l":"962","z":"3661",'
    b'"T":1634653599180}}}'
)
ALL = {
    "aggTrade": AGG_TRADE,
    "trade": TRADE,
    "kline": KLINE,
    "depthUpdate": DEPTH_DIFF,
    "markPriceUpdate": MARK_PRICE,
    "24hrTicker": TICKER,
    "bookTicker": BOOK_TICKER,
    "forceOrder": FORCE_ORDER,
}
