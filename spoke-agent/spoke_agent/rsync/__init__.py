"""The entrypoint of the rsync image the executor's copy pods run: it runs the pod's command
and, on a client, keeps the pod's `cclm.io/bytes-copied` annotation current for the executor."""
