"""Runs after the other suites (but before test_zz_lifecycle stops the
daemons): no password, secret or token used in this e2e run appears in any
Strata daemon's log, and no log line carries a Strata token at all."""
import glob
import os

from test_identity import SECRETS_FILE


def daemon_logs(home):
    logs = set(glob.glob(os.path.join(home, "log", "*.log")))
    extra = os.path.join(home, "e2e-daemon-logs")  # daemons the tests started themselves
    if os.path.exists(extra):
        with open(extra) as f:
            logs.update(p.strip() for p in f if p.strip() and os.path.exists(p.strip()))
    return sorted(logs)


def test_no_secret_in_any_log(home, strata_env):
    secrets = {strata_env["STRATA_ADMIN_TOKEN"], strata_env["OS_PASSWORD"],
               strata_env["STRATA_DEMO_PASSWORD"]}
    path = os.path.join(home, SECRETS_FILE)
    assert os.path.exists(path), "test_identity.py recorded no secrets: did it run?"
    with open(path) as f:
        secrets.update(s.strip() for s in f if s.strip())
    assert len(secrets) > 10
    logs = daemon_logs(home)
    assert any(p.endswith("identity.log") for p in logs), logs
    found = []
    for p in logs:
        with open(p, errors="replace") as f:
            for n, line in enumerate(f, 1):
                if "st1." in line:
                    found.append("%s:%d: a token: %s" % (p, n, line.strip()[:160]))
                for s in secrets:
                    if s in line:
                        found.append("%s:%d: a secret (%s...)" % (p, n, s[:4]))
    assert not found, "\n".join(found[:20])
