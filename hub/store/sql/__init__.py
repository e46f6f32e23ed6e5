"""The hub's store in SQL, written once for both adapters: the schema, every statement and
transaction, and the group commit of reports. An adapter (`hub.store.sqlite`,
`hub.store.postgres`) supplies connections and transactions, and decides nothing else."""
