"""How each language's program and tests become files, a compile step and a run inside the sandbox."""

from __future__ import annotations

import glob
import os
import re
import shlex
from dataclasses import dataclass, field

# Languages as syncode names them, with the Debian toolchain each needs (inside the sandbox only /usr is visible).
TOOLCHAINS: dict[str, tuple[str, ...]] = {
    "python": ("/usr/bin/python3",),
    "javascript": ("/usr/bin/node",),
    "typescript": ("/usr/bin/node", "/usr/share/nodejs/typescript/lib/typescript.js"),
    "c": ("/usr/bin/gcc",),
    "cpp": ("/usr/bin/g++",),
    "java": ("/usr/bin/javac", "/usr/bin/java"),
    "go": ("/usr/bin/go",),
    "rust": ("/usr/bin/rustc",),
    "bash": ("/usr/bin/bash",),
    "php": ("/usr/bin/php",),
    "ruby": ("/usr/bin/ruby",),
}
ALIASES = {"py": "python", "python3": "python", "js": "javascript", "node": "javascript", "ts": "typescript",
           "c++": "cpp", "cxx": "cpp", "golang": "go", "rs": "rust", "sh": "bash", "shell": "bash", "rb": "ruby"}
# Runtimes that start under an address-space cap; the JVM, Go and Node reserve far more than they use.
TOLERATES_RLIMIT_AS = frozenset({"python", "c", "cpp", "rust", "bash", "php", "ruby"})

GO_TEST_RE = re.compile(r"^\s*func\s+Test\w*\s*\(\s*\w+\s+\*testing\.T\s*\)", re.M)
JAVA_PUBLIC_CLASS_RE = re.compile(r"\bpublic\s+(?:(?:final|abstract|static|strictfp)\s+)*class\s+([A-Za-z_$][\w$]*)")
JAVA_CLASS_RE = re.compile(r"\bclass\s+([A-Za-z_$][\w$]*)")
JAVA_MAIN_RE = re.compile(r"\bpublic\s+static\s+void\s+main\s*\(|\bstatic\s+public\s+void\s+main\s*\(")

PCH_MOUNT = "/opt/syncode-pch"  # where the C++ precompiled header is bound, read-only
CPP_FLAGS = ("-std=c++17", "-O2")  # the precompiled header is built with the same flags, or gcc ignores it

# Transpile-only TypeScript (types stripped, syntax errors reported), as esbuild or ts-node --transpile-only do.
TS_TRANSPILE = r"""
const fs = require('fs'); const ts = require('typescript');
const src = fs.readFileSync('main.ts', 'utf8');
const out = ts.transpileModule(src, {reportDiagnostics: true, fileName: 'main.ts',
  compilerOptions: {module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2020}});
const errs = (out.diagnostics || []).filter(d => d.category === ts.DiagnosticCategory.Error);
for (const d of errs) console.error('main.ts: ' + ts.flattenDiagnosticMessageText(d.messageText, '\n'));
if (errs.length) process.exit(1);
fs.writeFileSync('main.js', out.outputText);
"""


@dataclass(frozen=True)
class Recipe:
    """Files to place in the run's /tmp, a compile command (shell, or empty), and the command that runs it."""

    files: dict[str, str]
    compile: str
    run: list[str]
    env: dict[str, str] = field(default_factory=dict)
    binds: tuple[tuple[str, str], ...] = ()  # (host path, sandbox path) bound read-only


def canonical_language(language: str) -> str:
    name = (language or "").strip().lower()
    return ALIASES.get(name, name)


def discover_toolchains() -> dict[str, bool]:
    """Which languages can run: each needs its toolchain under /usr, the only tree the sandbox sees."""
    found = {}
    for language, paths in TOOLCHAINS.items():
        found[language] = all(os.path.realpath(p).startswith("/usr/") and os.access(os.path.realpath(p), os.R_OK)
                               and (p.endswith(".js") or os.access(os.path.realpath(p), os.X_OK)) for p in paths)
    return found


def joined(program: str, tests: str) -> str:
    """The program followed by its tests: one source unit."""
    return program.rstrip("\n") + "\n\n" + tests.lstrip("\n") + ("\n" if not tests.endswith("\n") else "")


def java_main_class(source: str) -> str:
    """The public class that has `main` (the file is named after it); a lone class when none is public."""
    main_at = JAVA_MAIN_RE.search(source)
    for pattern in (JAVA_PUBLIC_CLASS_RE, JAVA_CLASS_RE):
        classes = [(m.start(), m.group(1)) for m in pattern.finditer(source)]
        if main_at:
            before = [name for start, name in classes if start < main_at.start()]
            if before:
                return before[-1]
        if classes:
            return classes[0][1]
    return "Main"


def _php(program: str, tests: str) -> str:
    """PHP: tests that open `<?php` again continue the program's PHP block."""
    stripped = tests.lstrip()
    if stripped.startswith("<?php") and "<?php" in program and not program.rstrip().endswith("?>"):
        tests = stripped[len("<?php"):]
    return joined(program, tests)


def recipe(language: str, program: str, tests: str, memory_mb: int, pch_dir: str | None) -> Recipe:
    """The files, compile step and run command for one sample of `language` (already canonical and available)."""
    heap = max(64, memory_mb * 3 // 4)
    if language == "python":
        return Recipe({"main.py": joined(program, tests)}, "", ["/usr/bin/python3", "-B", "main.py"])
    if language == "javascript":
        return Recipe({"main.js": joined(program, tests)}, "",
                      ["/usr/bin/node", f"--max-old-space-size={heap}", "main.js"])
    if language == "typescript":
        return Recipe({"main.ts": joined(program, tests), "transpile.js": TS_TRANSPILE},
                      "NODE_PATH=/usr/share/nodejs /usr/bin/node transpile.js",
                      ["/usr/bin/node", f"--max-old-space-size={heap}", "main.js"])
    if language == "c":
        return Recipe({"main.c": joined(program, tests)}, "/usr/bin/gcc -std=c17 -O2 -o prog main.c -lm", ["./prog"])
    if language == "cpp":
        flags = " ".join(CPP_FLAGS)
        binds: tuple[tuple[str, str], ...] = ()
        if pch_dir:
            flags += f" -I{PCH_MOUNT} -include bits/stdc++.h"
            binds = ((pch_dir, PCH_MOUNT),)
        return Recipe({"main.cpp": joined(program, tests)}, f"/usr/bin/g++ {flags} -o prog main.cpp -lm", ["./prog"],
                      binds=binds)
    if language == "java":
        source = joined(program, tests)
        name = java_main_class(source)
        return Recipe({f"{name}.java": source}, f"/usr/bin/javac -J-Xmx{heap}m -J-XX:+UseSerialGC -d . "
                      f"{shlex.quote(name + '.java')}",
                      ["/usr/bin/java", f"-Xmx{heap}m", "-XX:+ExitOnOutOfMemoryError", "-XX:+UseSerialGC",
                       "-XX:TieredStopAtLevel=1", "-cp", ".", name])
    if language == "go":
        env = {"GOCACHE": "/tmp/.gocache", "GOPATH": "/tmp/.gopath", "GOFLAGS": "-mod=mod", "GOPROXY": "off",
               "GO111MODULE": "on", "CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOMEMLIMIT": f"{heap}MiB",
               "GOMAXPROCS": "2"}
        files = {"go.mod": "module sandbox\n\ngo 1.19\n"}
        if GO_TEST_RE.search(tests):
            files |= {"main.go": program, "main_test.go": tests}
            return Recipe(files, "/usr/bin/go test -vet=off -c -o prog.test .", ["./prog.test"], env=env)
        files["main.go"] = joined(program, tests)
        return Recipe(files, "/usr/bin/go build -o prog .", ["./prog"], env=env)
    if language == "rust":
        source = joined(program, tests)
        test = "--test " if "#[test]" in source else ""
        return Recipe({"main.rs": source}, f"/usr/bin/rustc --edition 2021 -C opt-level=1 {test}-o prog main.rs",
                      ["./prog"])
    if language == "bash":
        return Recipe({"main.sh": joined(program, tests)}, "", ["/usr/bin/bash", "main.sh"])
    if language == "php":
        return Recipe({"main.php": _php(program, tests)}, "", ["/usr/bin/php", "main.php"])
    if language == "ruby":
        return Recipe({"main.rb": joined(program, tests)}, "", ["/usr/bin/ruby", "main.rb"])
    raise ValueError(f"no recipe for {language!r}")


def stdcpp_header() -> str | None:
    """GCC's bits/stdc++.h, the header the C++ precompiled header is built from."""
    found = sorted(glob.glob("/usr/include/*/c++/*/bits/stdc++.h") + glob.glob("/usr/include/c++/*/bits/stdc++.h"))
    return found[-1] if found else None
