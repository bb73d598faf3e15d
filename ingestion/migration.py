"""`manage.py migrate_store`: rewrite stored rows to carry their idempotency key as `_id` (`ingestion.keys`).

Rows written before keys moved into `_id` (and rows written by other tools) have ObjectId `_id`s and a secondary
unique index on the key fields. Each collection is migrated in place, so readers and a running consumer keep
working throughout:

1. count the rows;
2. drop the old unique index on the key fields and build the type's current indexes (`ingestion.documents`);
3. stream the ObjectId rows in `_id` order, write each batch through `ingestion.store.write_rows` (the same key
   owner and the same rules as live ingestion: an insert-only row whose key is already stored is a duplicate, a
   versioned row keeps the newest event), and only then delete the batch's ObjectId rows;
4. count again.

A row is deleted only after its keyed copy is stored, so an interrupted run loses nothing and a rerun resumes: the
rows still holding ObjectIds are exactly the work left. Rows of one key collapse into one (the old unique index
allowed only one, so this only happens where another tool wrote duplicates); they are reported as merged, so
`rows_after = rows_before - merged`. A row missing a key field cannot be keyed: it is kept as it is and reported.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pymongo.collection import Collection

from petrosa_dm import mongo
from petrosa_dm.market.naming import SeriesRef, parse_collection

from . import store
from .keys import OBJECT_ID_RANGE, key_fields

BATCH_SIZE = 1000


@dataclass
class CollectionMigration:
    collection: str
    rows_before: int = 0
    rows_after: int = 0
    to_rewrite: int = 0
    rewritten: int = 0
    merged: int = 0
    unkeyed: int = 0
    indexes_dropped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.rewritten or self.merged or self.indexes_dropped)


def store_collections(names: Iterable[str] | None = None) -> list[SeriesRef]:
    """The time-series collections by the naming rules (all of them, or those named), sorted by name."""
    database = mongo.database()
    wanted = set(names) if names else None
    refs = [ref for name in sorted(database.list_collection_names()) if (ref := parse_collection(name))]
    return [ref for ref in refs if wanted is None or ref.collection in wanted]


def obsolete_indexes(target: Collection, ref: SeriesRef) -> list[str]:
    """Unique indexes on exactly the key fields: `_id` now enforces them."""
    key = key_fields(ref.data_type)
    return [
        name
        for name, index in target.index_information().items()
        if name != "_id_" and index.get("unique") and tuple(field for field, _ in index["key"]) == key
    ]


def collection_migrate(
    ref: SeriesRef,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int], object] | None = None,
    on_start: Callable[[CollectionMigration], object] | None = None,
) -> CollectionMigration:
    """Migrate one collection (see the module docstring); `progress(n)` is called after each batch of n rows."""
    target = mongo.database()[ref.collection]
    result = CollectionMigration(ref.collection, rows_before=target.count_documents({}))
    result.to_rewrite = target.count_documents({"_id": OBJECT_ID_RANGE})
    if on_start:
        on_start(result)
    for name in obsolete_indexes(target, ref):
        target.drop_index(name)
        result.indexes_dropped.append(name)
    store.ensure_indexes(target, ref.data_type)
    store.forget_legacy(target)
    required = (*key_fields(ref.data_type), *filter(None, [store.VERSION_FIELD.get(ref.data_type)]))
    cursor = target.find({"_id": OBJECT_ID_RANGE}, sort=[("_id", 1)], batch_size=batch_size)
    batch: list[dict] = []
    for row in cursor:
        batch.append(row)
        if len(batch) >= batch_size:
            _rewrite(target, ref, batch, required, result, progress)
            batch = []
    if batch:
        _rewrite(target, ref, batch, required, result, progress)
    result.rows_after = target.count_documents({})
    return result


def _rewrite(
    target: Collection,
    ref: SeriesRef,
    batch: list[dict],
    required: tuple[str, ...],
    result: CollectionMigration,
    progress: Callable[[int], object] | None,
) -> None:
    keyable = [row for row in batch if all(name in row for name in required)]
    result.unkeyed += len(batch) - len(keyable)
    old_ids = [row.pop("_id") for row in keyable]
    if keyable:
        written = store.write_rows(ref, keyable)
        # A versioned row that replaced a stored one, like a duplicate, folds two rows into one.
        result.rewritten += written.inserted
        result.merged += written.updated + written.duplicates
        target.delete_many({"_id": {"$in": old_ids}})
    if progress:
        progress(len(batch))
