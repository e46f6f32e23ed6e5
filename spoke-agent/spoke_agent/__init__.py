"""The spoke agent: runs in every managed cluster, reports capacity and executes migrations."""
