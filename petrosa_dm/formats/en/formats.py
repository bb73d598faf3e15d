# How the console shows times: UTC with seconds on a 24-hour clock, the zone named (`2024-08-08 23:55:39 UTC`).
# The same as `petrosa_dm.market.timeutils.format_utc`, in Django's date-format syntax.
DATETIME_FORMAT = r"Y-m-d H:i:s \U\T\C"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
TIME_FORMAT = r"H:i:s \U\T\C"
DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
DATE_INPUT_FORMATS = ["%Y-%m-%d"]
