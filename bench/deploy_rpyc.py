"""RPyC's zero-deploy, timed for bench/deploy.ts.

Usage: deploy_rpyc.py HOST PORT USER KEYFILE KNOWN_HOSTS ROUNDS

Each round times, with time.perf_counter, what bench/deploy.ts times for rdc:
from creating plumbum's SshMachine to the first classic call answered
(conn.modules.os.getpid()), through rpyc.utils.zerodeploy.DeployedServer.
Prints one JSON line per round: {"ms": ..., "pid": ...}.
"""

import json
import sys
import time

from plumbum import SshMachine
from rpyc.utils.zerodeploy import DeployedServer


def main():
    host, port, user, keyfile, known_hosts, rounds = sys.argv[1:7]
    # The same host key policy as rdc's default: only keys in known_hosts.
    opts = ["-o", "UserKnownHostsFile=" + known_hosts, "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    for _ in range(int(rounds)):
        start = time.perf_counter()
        machine = SshMachine(host, user=user, port=int(port), keyfile=keyfile,
                             ssh_opts=opts, scp_opts=opts)
        server = DeployedServer(machine)
        conn = server.classic_connect()
        pid = conn.modules.os.getpid()
        elapsed = time.perf_counter() - start
        conn.close()
        server.close()
        machine.close()
        print(json.dumps({"ms": elapsed * 1000, "pid": pid}), flush=True)


if __name__ == "__main__":
    main()
