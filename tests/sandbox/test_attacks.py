"""Attacks from inside the sandbox, in Python, C and Bash: each is contained, and reported with the right status.

The programs exit 0 only when the attack worked, so a contained attack reads `failed` unless a limit or the clock
has its own status. All of them run as one batch through run_many (two at a time), then each test reads its row.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from sandbox import Sample
from tests.conftest import REPO
from tests.sandbox.conftest import has_cgroup, need, slot_processes

LANGUAGES = ("python", "c", "bash")
KEY = "sk-test-0123456789abcdef-not-a-real-key"
SECRET = "secret-token-4f1c2a-from-the-host"

C_HEAD = ("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n#include <signal.h>\n"
          "#include <fcntl.h>\n#include <sys/socket.h>\n#include <netinet/in.h>\n#include <arpa/inet.h>\n"
          "#include <net/if.h>\n#include <dirent.h>\n")


def _programs(port: int, secret_path: str, write_path: str, host_pid: int) -> dict[str, dict[str, str]]:
    """attack -> language -> program; each exits 0 only if the attack succeeded."""
    repo_file = str(REPO / "README.md")
    return {
        "connect_host_listener": {
            "python": f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n",
            "c": C_HEAD + "int main(){int s=socket(AF_INET,SOCK_STREAM,0); struct sockaddr_in a={0};"
                 f"a.sin_family=AF_INET; a.sin_port=htons({port}); a.sin_addr.s_addr=inet_addr(\"127.0.0.1\");"
                 "return connect(s,(struct sockaddr*)&a,sizeof a)==0?0:1;}",
            "bash": f"exec 3<>/dev/tcp/127.0.0.1/{port}\n",
        },
        "interfaces_only_loopback": {  # exits 0 when the only interface is lo: that is the contained case
            "python": "import socket, sys\nprint(socket.if_nameindex())\nsys.exit(0 if [n for _, n in "
                      "socket.if_nameindex()] == ['lo'] else 1)\n",
            "c": C_HEAD + "int main(){struct if_nameindex *i=if_nameindex(); int n=0, lo=0;"
                 "for(;i[n].if_index;n++){printf(\"%s\\n\",i[n].if_name); lo+=!strcmp(i[n].if_name,\"lo\");}"
                 "return (n==1&&lo)?0:1;}",
            "bash": "names=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '); echo \"$names\"; "
                    "[ \"$names\" = lo ]\n",
        },
        "read_etc_shadow": {
            "python": "print(open('/etc/shadow').read())\n",
            "c": C_HEAD + "int main(){FILE*f=fopen(\"/etc/shadow\",\"r\"); if(!f) return 1; char b[4096];"
                 "size_t n=fread(b,1,sizeof b,f); fwrite(b,1,n,stdout); return n>0?0:1;}",
            "bash": "cat /etc/shadow && grep -q root /etc/shadow\n",
        },
        "read_host_secret": {
            "python": f"import sys\nfound = []\nfor p in ({secret_path!r}, {repo_file!r}):\n    try:\n"
                      "        found.append(open(p).read())\n    except OSError:\n        pass\n"
                      "print(found)\nsys.exit(0 if found else 1)\n",
            "c": C_HEAD + f"int main(){{const char*p[]={{\"{secret_path}\",\"{repo_file}\"}}; int ok=0;"
                 "for(int i=0;i<2;i++){FILE*f=fopen(p[i],\"r\"); if(f){char b[256]; size_t n=fread(b,1,255,f);"
                 "b[n]=0; puts(b); ok=1;}} return ok?0:1;}",
            "bash": f"cat {secret_path} || cat {repo_file}\n",
        },
        "write_outside": {
            "python": f"import sys\nok = False\n"
                      f"for p in ({write_path!r}, '/usr/pwned', '/etc/pwned', '/pwned', '/dev/pwned'):\n"
                      "    try:\n        open(p, 'w').write('pwned')\n        ok = True\n    except OSError:\n"
                      "        pass\nsys.exit(0 if ok else 1)\n",
            "c": C_HEAD + f"int main(){{const char*p[]={{\"{write_path}\",\"/usr/pwned\",\"/etc/pwned\",\"/pwned\","
                 "\"/dev/pwned\"}; int ok=0; for(int i=0;i<5;i++){FILE*f=fopen(p[i],\"w\");"
                 "if(f){fputs(\"pwned\",f); fclose(f); ok=1;}} return ok?0:1;}",
            "bash": f"for p in {write_path} /usr/pwned /etc/pwned /pwned /dev/pwned; do "
                    "echo pwned > $p && exit 0; done; exit 1\n",
        },
        "read_key_from_environment": {
            "python": "import glob, os, sys\nseen = str(dict(os.environ))\nfor p in glob.glob('/proc/*/environ'):\n"
                      "    try:\n        seen += open(p).read()\n    except OSError:\n        pass\n"
                      "print(seen)\nsys.exit(0 if 'SYNCODE_TEST_API_KEY' in seen or 'sk-test' in seen else 1)\n",
            "c": C_HEAD + "extern char **environ; int main(){int hit=0; for(char**e=environ;*e;e++){puts(*e);"
                 "if(strstr(*e,\"SYNCODE_TEST_API_KEY\")) hit=1;} DIR*d=opendir(\"/proc\"); struct dirent*x;"
                 "while((x=readdir(d))){char p[300]; snprintf(p,sizeof p,\"/proc/%s/environ\",x->d_name);"
                 "int fd=open(p,O_RDONLY); if(fd<0) continue; char b[65536]; ssize_t n=read(fd,b,sizeof b-1);"
                 "close(fd); if(n>0){b[n]=0; for(ssize_t i=0;i<n;i++) if(!b[i]) b[i]='\\n';"
                 "if(strstr(b,\"SYNCODE_TEST_API_KEY\")) hit=1;}} return hit?0:1;}",
            "bash": "env; cat /proc/*/environ | tr '\\0' '\\n'; "
                    "{ env; cat /proc/*/environ; } 2>/dev/null | tr '\\0' '\\n' | grep -q SYNCODE_TEST_API_KEY\n",
        },
        "fork_bomb": {
            "python": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
            "c": C_HEAD + "int main(){for(;;) fork();}",
            "bash": "bomb() { bomb | bomb & }; bomb; sleep 30\n",
        },
        "memory_bomb": {  # each catches its allocation failure and exits 0: it must not pass
            "python": "chunks = []\ntry:\n    while True:\n        chunks.append(bytearray(16 << 20))\n"
                      "except MemoryError:\n    chunks = None\n",
            "c": C_HEAD + "int main(){for(;;){char*p=malloc(16<<20); if(!p) return 0; memset(p,1,16<<20);}}",
            "bash": "printf -v s '%0100000000d' 0; a=$s$s$s$s$s$s$s 2>/dev/null; exit 0\n",
        },
        "infinite_loop": {
            "python": "while True:\n    pass\n",
            "c": C_HEAD + "int main(){volatile unsigned long i=0; for(;;) i++;}",
            "bash": "while :; do :; done\n",
        },
        "output_200mb": {
            "python": "import sys\nblock = 'x' * (1 << 20)\nfor _ in range(200):\n    sys.stdout.write(block)\n",
            "c": C_HEAD + "int main(){static char b[1<<20]; memset(b,'x',sizeof b);"
                 "for(int i=0;i<200;i++) fwrite(b,1,sizeof b,stdout); return 0;}",
            "bash": "head -c 209715200 /dev/zero | tr '\\0' x\n",
        },
        "background_process_after_exit": {  # exits 0 at once, leaving a setsid child behind: that one must die
            "python": "import subprocess\nsubprocess.Popen(['/bin/sh', '-c', 'sleep 3; echo still-here'], "
                      "start_new_session=True)\n",
            "c": C_HEAD + "int main(){if(fork()==0){setsid(); if(fork()==0){sleep(3); puts(\"still-here\");}"
                 "_exit(0);} return 0;}",
            "bash": "setsid sh -c 'sleep 3; echo still-here' &\nnohup sleep 30 >/dev/null 2>&1 &\nexit 0\n",
        },
        "kill_the_parent": {  # kills its parent and the host's test process, then loops: the clock still rules
            "python": f"import os\nfor pid in ({host_pid}, os.getppid(), 1):\n    try:\n        os.kill(pid, 9)\n"
                      "    except OSError:\n        pass\nwhile True:\n    pass\n",
            "c": C_HEAD + f"int main(){{kill({host_pid},SIGKILL); kill(getppid(),SIGKILL); kill(1,SIGKILL);"
                 "kill(-1,SIGKILL); for(;;);}",
            "bash": f"kill -9 {host_pid} $PPID 1 2>/dev/null\nwhile :; do :; done\n",
        },
    }


EXPECTED = {
    "connect_host_listener": "failed",
    "interfaces_only_loopback": "passed",
    "read_etc_shadow": "failed",
    "read_host_secret": "failed",
    "write_outside": "failed",
    "read_key_from_environment": "failed",
    "fork_bomb": "failed",
    "memory_bomb": "memory_limit",
    "infinite_loop": "timeout",
    "output_200mb": "output_limit",
    "background_process_after_exit": "passed",
    "kill_the_parent": "timeout",
}


@pytest.fixture(scope="module")
def attacks(attack_box, tmp_path_factory):
    """Run every attack once; yields (outcomes by (attack, language), the host-side evidence)."""
    box = attack_box
    for language in LANGUAGES:
        need(box, language)
    host = tmp_path_factory.mktemp("host")
    secret = host / "secret.txt"
    secret.write_text(SECRET)
    write_path = host / "pwned.txt"
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[tuple] = []

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[1])
            except OSError:
                continue
    stop = threading.Event()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    os.environ["SYNCODE_TEST_API_KEY"] = KEY
    try:
        programs = _programs(listener.getsockname()[1], str(secret), str(write_path), os.getpid())
        samples = [Sample(f"{attack}/{language}", language, program, "")
                   for attack, by_language in programs.items() for language, program in by_language.items()]
        outcomes = {o.id: o for o in box.run_many(samples)}
        leftovers = slot_processes(box)
        time.sleep(3.5)  # past the background processes' `sleep 3`
        later = slot_processes(box)
    finally:
        del os.environ["SYNCODE_TEST_API_KEY"]
        stop.set()
        thread.join()
        listener.close()
    assert len(outcomes) == len(samples)
    yield outcomes, {"accepted": accepted, "write_path": write_path, "leftovers": leftovers, "later": later}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("attack", list(EXPECTED))
def test_attack_is_contained_and_reported(attack_box, attacks, attack: str, language: str) -> None:
    outcomes, evidence = attacks
    outcome = outcomes[f"{attack}/{language}"]
    if attack in ("fork_bomb", "memory_bomb") and not has_cgroup(attack_box):
        assert outcome.status != "sandbox_error"
        pytest.xfail(f"level {attack_box.level} has no cgroup: a refused fork or a caught allocation failure is "
                     "not observable there (docs/sandbox.md, known gaps)")
    assert outcome.status == EXPECTED[attack], (outcome.status, outcome.reason, outcome.stdout, outcome.stderr)
    assert not outcome.passed or EXPECTED[attack] == "passed"
    assert outcome.level  # the isolation level is recorded with every result
    text = outcome.stdout + outcome.stderr
    assert KEY not in text and SECRET not in text and "root:" not in text
    assert "still-here" not in text


def test_no_connection_reached_the_host(attacks) -> None:
    assert attacks[1]["accepted"] == []


def test_nothing_was_written_on_the_host(attacks) -> None:
    assert not attacks[1]["write_path"].exists()
    for path in ("/usr/pwned", "/etc/pwned", "/pwned"):
        assert not Path(path).exists()


def test_no_process_outlives_its_run(attacks) -> None:
    """No sandbox process (background, setsid, fork-bomb child, zombie init) is left, then or seconds later."""
    assert attacks[1]["leftovers"] == []
    assert attacks[1]["later"] == []


def test_the_host_process_survived(attacks) -> None:
    outcomes, _ = attacks
    for language in LANGUAGES:
        assert outcomes[f"kill_the_parent/{language}"].status == "timeout"
    assert os.getppid() != 1 or True  # we are still here to assert: the kill never reached this process
