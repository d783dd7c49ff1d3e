"""The service around the engine: the daemon loop, signals, the state-dir lock, sd_notify,
/healthz and /metrics, and the `status` and `doctor` commands.

Entry points for the CLI: daemon.run_daemon, status.show_status, doctor.run_doctor.
"""
