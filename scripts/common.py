"""Shared logic of the scripts in this directory.

The scripts are one step each (fetch, apply, refresh, build, test); what
they share lives here so that no logic is copied between them.

Layout of the work area (all of it under build/, which git ignores)::

    build/cache/          downloads and apt's private state, reused
    build/upstream/       the pristine CPython tree (see upstream.json)
    build/upstream.json   where that tree came from: version, origin, sha256
    build/src/            the patched tree, a git repository: the baseline
                          commit (tag "upstream"), the series' new files
                          (tag "series-files"), then one commit per patch
    build/<variant>/      out-of-tree build (obj/) and install prefix
                          (install/) of the patched tree
    build/<variant>-upstream/   the same for the unpatched tree
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("SERIES_BUILD_DIR", ROOT / "build")).resolve()
PATCHES = ROOT / "patches"

UPSTREAM_TAG = "upstream"
FILES_TAG = "series-files"
# patchcheck looks for a remote of CPython's and diffs against its branch
# named after the running version; the URL is only recorded, never fetched.
CPYTHON_REMOTE_URL = "https://github.com/python/cpython"

# Fixed identity and dates make the baseline commits reproducible.
BASE_IDENTITY = {
    "GIT_AUTHOR_NAME": "CPython upstream",
    "GIT_AUTHOR_EMAIL": "upstream@python.invalid",
    "GIT_COMMITTER_NAME": "CPython upstream",
    "GIT_COMMITTER_EMAIL": "upstream@python.invalid",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
}
# Commits made by scripts/apply (git am keeps the patches' authors).
APPLY_IDENTITY = {
    "GIT_COMMITTER_NAME": "scripts/apply",
    "GIT_COMMITTER_EMAIL": "apply@series.invalid",
}

FORMAT_PATCH = ["format-patch", "--no-signature", "--zero-commit", "-N",
                "--no-renames"]


class Error(Exception):
    """A failure to report as one line, without a traceback."""


# --------------------------------------------------------------------------
# Output and processes


def progress(message):
    """Report progress on stderr (stdout carries each script's result)."""
    print(f"{Path(sys.argv[0]).name}: {message}", file=sys.stderr, flush=True)


def interpreter_id(python):
    """What changes when python is rebuilt or replaced."""
    path = Path(python).resolve()
    st = path.stat()
    return f"{path} {st.st_size} {st.st_mtime_ns}"


def ensure_venv(env_dir, python, requirements, key=""):
    """A venv of python in env_dir with the requirements file installed;
    reused while python, the requirements and key (what else the caller's
    venv depends on) stay the same, made anew otherwise.  pip's output goes
    to env_dir/install.log.  Returns the venv's python."""
    env_dir = Path(env_dir)
    vpython = env_dir / "bin" / "python"
    stamp = env_dir / "venv.stamp"
    want = "\n".join([interpreter_id(python), key,
                      Path(requirements).read_text()])
    if vpython.exists() and stamp.exists() and stamp.read_text() == want:
        return vpython
    if env_dir.exists():
        shutil.rmtree(env_dir)
    progress(f"making the venv {env_dir} (log: {env_dir / 'install.log'})")
    run([python, "-m", "venv", env_dir], capture=True)
    with open(env_dir / "install.log", "w") as log:
        proc = subprocess.run(
            [str(vpython), "-m", "pip", "install",
             "--disable-pip-version-check", "-r", str(requirements)],
            stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise Error(f"installing {requirements} into {env_dir} failed; see "
                    f"{env_dir / 'install.log'}")
    stamp.write_text(want)
    return vpython


def main_wrapper(main):
    """Run main(), turning Error into one line on stderr and exit status 1."""
    try:
        status = main()
    except Error as exc:
        print(f"{Path(sys.argv[0]).name}: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{Path(sys.argv[0]).name}: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(status or 0)


def run(cmd, *, cwd=None, env=None, check=True, capture=False, input=None,
        quiet=False):
    """Run a command; return CompletedProcess (stdout/stderr as text)."""
    full_env = None
    if env:
        full_env = os.environ.copy()
        full_env.update(env)
    kwargs = {}
    if capture:
        kwargs["stdout"] = subprocess.PIPE
        kwargs["stderr"] = subprocess.PIPE
    elif quiet:
        kwargs["stdout"] = subprocess.DEVNULL
        kwargs["stderr"] = subprocess.DEVNULL
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=full_env,
                              text=True, input=input, **kwargs)
    except FileNotFoundError:
        raise Error(f"command not found: {cmd[0]}") from None
    if check and proc.returncode != 0:
        detail = ""
        if capture and proc.stderr.strip():
            detail = ": " + proc.stderr.strip().splitlines()[-1]
        raise Error(f"'{' '.join(map(str, cmd))}' failed "
                    f"(exit {proc.returncode}){detail}")
    return proc


def git(tree, *args, env=None, check=True, capture=True, input=None):
    """Run git in tree; return its stdout."""
    proc = run(["git", "-C", tree, *args], env=env, check=check,
               capture=capture, input=input)
    return proc.stdout if capture else ""


def git_bytes(tree, *args):
    return subprocess.run(["git", "-C", str(tree), *args], check=True,
                          stdout=subprocess.PIPE).stdout


# --------------------------------------------------------------------------
# The pinned upstream version


def read_pin(patches=None):
    """Return the {version, sha256} the series is made against."""
    path = (patches or PATCHES) / "upstream"
    pin = {}
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise Error(f"{path} is missing") from None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise Error(f"{path}: bad line {line!r} (want 'key = value')")
        pin[key.strip()] = value.strip()
    if "version" not in pin:
        raise Error(f"{path}: no 'version = ...' line")
    return pin


def series_of(version):
    """'3.13.15' -> '3.13'."""
    m = re.match(r"(\d+)\.(\d+)", version)
    if not m:
        raise Error(f"not a CPython version: {version!r}")
    return f"{m.group(1)}.{m.group(2)}"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------
# CPython trees


def cpython_version(tree):
    """Return PY_VERSION of a CPython source tree, or raise Error."""
    tree = Path(tree)
    patchlevel = tree / "Include" / "patchlevel.h"
    needed = [patchlevel, tree / "configure", tree / "Objects" / "genobject.c",
              tree / "Makefile.pre.in"]
    missing = [str(p.relative_to(tree)) for p in needed if not p.exists()]
    if missing:
        raise Error(f"{tree} is not a CPython source tree "
                    f"(no {', '.join(missing)}); pass the top directory of a "
                    f"CPython release or checkout")
    m = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', patchlevel.read_text())
    if not m:
        raise Error(f"{patchlevel}: no PY_VERSION")
    return m.group(1)


def upstream_dir():
    return BUILD / "upstream"


def upstream_info():
    """Return the record of the fetched upstream tree, or None."""
    try:
        info = json.loads((BUILD / "upstream.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    if not (upstream_dir() / "Include" / "patchlevel.h").exists():
        return None
    return info


def require_upstream():
    info = upstream_info()
    if info is None:
        raise Error("no CPython source fetched yet; run scripts/fetch "
                    "(or scripts/build, which fetches)")
    return info


def upstream_identity(info):
    return f"{info['version']} {info['origin']} {info.get('sha256', '')}"


# --------------------------------------------------------------------------
# The series: new files and patches


def series_entries(patches=None):
    """Return [(name, enabled)] from patches/series, in order."""
    path = (patches or PATCHES) / "series"
    entries = []
    if not path.exists():
        return entries
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            name = text.lstrip("#").strip()
            if name.endswith(".patch") and " " not in name:
                entries.append((name, False))
            continue
        entries.append((text.split()[0], True))
    return entries


def enabled_patches(patches=None):
    patches = patches or PATCHES
    result = []
    for name, enabled in series_entries(patches):
        if not enabled:
            continue
        path = patches / name
        if not path.exists():
            raise Error(f"patches/series lists {name}, which does not exist")
        result.append(path)
    return result


def cpython_top_dirs(tree):
    return {p.name for p in Path(tree).iterdir() if p.is_dir()
            and not p.name.startswith(".")}


def new_files(root, upstream):
    """Our new files: {relative path: absolute path} in root's top-level
    directories named like those of a CPython tree."""
    root = Path(root)
    files = {}
    for top in sorted(cpython_top_dirs(upstream)):
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                files[path.relative_to(root).as_posix()] = path
    clash = [rel for rel in files if (Path(upstream) / rel).exists()]
    if clash:
        raise Error(f"{clash[0]} exists upstream: change it with a patch, "
                    f"not as a new file")
    return files


def is_executable(path):
    return os.access(path, os.X_OK)


def digest(patch_texts, files):
    """A digest of a series: patches (name, bytes) and new files."""
    h = hashlib.sha256()
    for name, data in patch_texts:
        h.update(b"P\0" + name.encode() + b"\0" + data + b"\0")
    for rel in sorted(files):
        data, executable = files[rel]
        h.update(b"F\0" + rel.encode() + b"\0" + bytes([executable])
                 + data + b"\0")
    return h.hexdigest()


def repo_series_digest(root=None, patches=None, upstream=None):
    root = root or ROOT
    patches = patches or PATCHES
    texts = [(p.name, p.read_bytes()) for p in enabled_patches(patches)]
    files = {rel: (p.read_bytes(), is_executable(p))
             for rel, p in new_files(root, upstream or upstream_dir()).items()}
    return digest(texts, files)


# --------------------------------------------------------------------------
# The patched tree (a git repository)


def tree_dir():
    return BUILD / "src"


def has_ref(tree, ref):
    proc = run(["git", "-C", tree, "rev-parse", "-q", "--verify",
                f"{ref}^{{commit}}"], check=False, capture=True)
    return proc.returncode == 0


def tree_base(tree):
    """The commit patches start from: series-files if present, else upstream."""
    if has_ref(tree, FILES_TAG):
        return FILES_TAG
    if has_ref(tree, UPSTREAM_TAG):
        return UPSTREAM_TAG
    raise Error(f"{tree} has no '{UPSTREAM_TAG}' tag: tag the pristine "
                f"CPython commit there ('git tag {UPSTREAM_TAG} <commit>')")


def tree_new_files(tree):
    """Files in the tree's HEAD that the upstream commit does not have."""
    out = git(tree, "diff", "--name-only", "--no-renames", "--diff-filter=A",
              "-z", UPSTREAM_TAG, "HEAD")
    return sorted(p for p in out.split("\0") if p)


def tree_dirty(tree):
    return git(tree, "status", "--porcelain", "--untracked-files=no").strip()


def export_tree(tree):
    """What refresh would write: ([(patch name, bytes)], {rel: (bytes, x)})."""
    tree = Path(tree)
    base = tree_base(tree)
    added = tree_new_files(tree)
    files = {}
    for rel in added:
        data = git_bytes(tree, "show", f"HEAD:{rel}")
        mode = git(tree, "ls-tree", "HEAD", "--", rel).split()[0]
        files[rel] = (data, mode == "100755")
    with tempfile.TemporaryDirectory(prefix="export-") as tmp:
        # History is limited to upstream files: commits that only touch new
        # files produce no patch, and new files never appear in a hunk.
        excludes = [f":(exclude,top){rel}" for rel in added]
        git(tree, *FORMAT_PATCH, "-o", tmp, f"{base}..HEAD", "--", ".",
            *excludes)
        texts = [(p.name, p.read_bytes()) for p in sorted(Path(tmp).iterdir())]
    return texts, files


def applied_digest_path(tree):
    gitdir = git(tree, "rev-parse", "--absolute-git-dir").strip()
    return Path(gitdir) / "series-applied"


def record_applied(tree, value):
    applied_digest_path(tree).write_text(value + "\n")


def recorded_applied(tree):
    try:
        return applied_digest_path(tree).read_text().strip()
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------
# Builds

VARIANTS = {
    "debug": ["--with-pydebug"],
    "release": [],
    "freethreading": ["--disable-gil", "--with-pydebug"],
    # The sanitizer builds, configured as CPython's CI configures its own:
    # AddressSanitizer without pymalloc, so that every object is an
    # allocation of its own that ASan watches (use after free, overflow),
    # here with UndefinedBehaviorSanitizer and the debug build's asserts;
    # ThreadSanitizer on the free-threaded debug build.
    "asan": ["--with-pydebug", "--with-address-sanitizer",
             "--with-undefined-behavior-sanitizer", "--without-pymalloc"],
    "tsan": ["--disable-gil", "--with-thread-sanitizer", "--with-pydebug"],
}
SANITIZER_VARIANTS = ("asan", "tsan")
# What TSan must not report in the free-threaded build: the suppressions
# file that CPython ships (and its CI uses), relative to the tree.
TSAN_SUPPRESSIONS = "Tools/tsan/suppressions_free_threading.txt"


def sanitizer_env(variant, tree, reports):
    """Environment for building or running a sanitizer variant: the options
    CPython's CI uses, with every report written to a file under reports
    (the directory is made) as well as making ASan abort.  {} for the other
    variants."""
    if variant not in SANITIZER_VARIANTS:
        return {}
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    if variant == "asan":
        return {
            # Leak detection is off as in CPython's CI: the interpreter
            # keeps some memory until exit by design.  An ASan error aborts
            # the process (regrtest reports the test as crashed).
            "ASAN_OPTIONS": "detect_leaks=0:allocator_may_return_null=1:"
                            "handle_segv=0:log_path=" + str(reports / "asan"),
            "UBSAN_OPTIONS": "print_stacktrace=1:log_path="
                             + str(reports / "ubsan"),
        }
    return {
        "TSAN_OPTIONS": f"suppressions={Path(tree) / TSAN_SUPPRESSIONS} "
                        f"handle_segv=0 log_path={reports / 'tsan'}",
    }


def sanitizer_reports(reports):
    """The report files a sanitizer wrote under reports: [(path, first
    line naming the error)]."""
    found = []
    reports = Path(reports)
    if not reports.is_dir():
        return found
    for path in sorted(reports.iterdir()):
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if not text.strip():
            continue
        first = next((line.strip() for line in text.splitlines()
                      if "ERROR:" in line or "WARNING:" in line
                      or "runtime error:" in line),
                     text.strip().splitlines()[0])
        found.append((path, first))
    return found

# Debian packages for a build with every optional module (what CPython's
# devguide lists for Debian), by the file that shows each is installed.
BUILD_DEPS = [
    "build-essential", "pkg-config", "libssl-dev", "zlib1g-dev", "libffi-dev",
    "libbz2-dev", "liblzma-dev", "libsqlite3-dev", "libreadline-dev",
    "libncurses-dev", "libgdbm-dev", "libgdbm-compat-dev", "uuid-dev",
    "tk-dev",
]


def missing_debian_packages(packages):
    """Packages not installed, or [] when this is not a Debian system."""
    if shutil.which("dpkg-query") is None:
        return []
    proc = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n",
                *packages], check=False, capture=True)
    installed = {line.split()[0] for line in proc.stdout.splitlines()
                 if line.endswith(" installed")}
    return [p for p in packages if p not in installed]


def tree_state(tree, patched):
    """A digest of what a build of tree depends on."""
    h = hashlib.sha256()
    if patched:
        # Committed state and uncommitted edits of tracked files; untracked
        # files (bytecode caches of the interpreter run from obj/, say)
        # don't count until they are added.
        h.update(git(tree, "rev-parse", "HEAD").encode())
        h.update(git_bytes(tree, "diff", "HEAD", "--binary"))
    else:
        h.update(upstream_identity(require_upstream()).encode())
    return h.hexdigest()


def build_stamp(variant, patched=True):
    """What scripts/build recorded of the build of a variant, or {}."""
    try:
        return json.loads((variant_dir(variant, patched)
                           / "stamp.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def variant_dir(variant, patched=True):
    return BUILD / (variant if patched else f"{variant}-upstream")


def installed_python(variant, patched=True):
    return variant_dir(variant, patched) / "install" / "bin" / "python3"


def built_python(variant, patched=True):
    return variant_dir(variant, patched) / "obj" / "python"


def test_names(files):
    """regrtest names of the test modules among repository-relative paths."""
    names = set()
    for rel in files:
        parts = rel.split("/")
        if len(parts) < 3 or parts[:2] != ["Lib", "test"]:
            continue
        mod = parts[2:]
        if not mod[0].startswith("test_"):
            continue
        if len(mod) == 1:
            if mod[0].endswith(".py"):
                names.add(mod[0][:-3])
        elif mod[1].startswith("test_") and mod[1].endswith(".py"):
            names.add(f"{mod[0]}.{mod[1][:-3]}")
        else:
            names.add(mod[0])
    return sorted(names)
