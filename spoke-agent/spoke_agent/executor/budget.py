"""The retry budget of one job: how often one VM may fail, be restarted or have its copy
distrusted before the job stops. Each bound is what keeps a job from running for ever."""

MAX_FAILURES = 3
"""Live attempts, or offline copies, that may fail for one VM before the job fails."""
MAX_RESTARTS = 10
"""Restarts of one VM during its live attempts before the job fails: a user's restart is
no failure, but a VM whose pod keeps going away (crashing, and cleaned up before a pass
saw it fail) would otherwise be retried for ever."""
MAX_STALE = 3
"""Finished copies of one VM that may be distrusted (the VM's object changed during each)
before the job fails: something that keeps writing the VM would otherwise keep it copying
for ever."""
