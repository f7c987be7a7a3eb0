"""Motion safety: what moves, hold-to-run leases, the coach-is-moving interlock, lockouts.

Pure rules over entity state, written once; every command path reaches them through
``EntityService.execute_command``. See docs/motion-safety.md.
"""
