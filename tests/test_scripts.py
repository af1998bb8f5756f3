"""Tests of scripts/fetch, apply and refresh on small synthetic trees.

Each test copies scripts/ into a temporary repository of its own, with its
own patches/ and build/, so nothing here touches the real work area or the
network.
"""

import argparse
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ["fetch", "apply", "refresh", "build", "test", "docs", "bench"]
VERSION = "3.13.99"


def git(cwd, *args, check=True):
    return subprocess.run(["git", "-C", str(cwd), *args], check=check,
                          capture_output=True, text=True)


def make_cpython(path, version=VERSION):
    """A tiny tree that looks like a CPython source tree."""
    (path / "Include").mkdir(parents=True)
    (path / "Objects").mkdir()
    (path / "Lib" / "test").mkdir(parents=True)
    (path / "Include" / "patchlevel.h").write_text(
        f'#define PY_VERSION "{version}"\n')
    (path / "configure").write_text("#!/bin/sh\n")
    (path / "configure").chmod(0o755)
    (path / "Makefile.pre.in").write_text("all:\n")
    (path / "Objects" / "genobject.c").write_text(
        "".join(f"line {i}\n" for i in range(1, 41)))
    (path / "Objects" / "object.c").write_text(
        "".join(f"object {i}\n" for i in range(1, 41)))
    (path / "Lib" / "test" / "test_gen.py").write_text("pass\n")
    return path


class Repo:
    def __init__(self, tmp_path):
        self.root = tmp_path / "repo"
        (self.root / "scripts").mkdir(parents=True)
        for name in SCRIPTS + ["common.py"]:
            shutil.copy2(ROOT / "scripts" / name, self.root / "scripts" / name)
        (self.root / "patches").mkdir()
        (self.root / "patches" / "upstream").write_text(
            "version = 3.13.15\nsha256 = 0\n")
        (self.root / "patches" / "series").write_text("")
        upstream = make_cpython(tmp_path / f"Python-{VERSION}")
        self.tarball = tmp_path / f"Python-{VERSION}.tar.xz"
        with tarfile.open(self.tarball, "w:xz") as tar:
            tar.add(upstream, arcname=upstream.name)
        self.upstream_src = upstream
        git(self.root, "init", "-q")
        self.tree = self.root / "build" / "src"

    def run(self, script, *args, check=True):
        proc = subprocess.run([sys.executable, str(self.root / "scripts" /
                                                   script), *map(str, args)],
                              capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"{script} {args} failed:\n{proc.stderr}")
        return proc

    def fetch_and_apply(self):
        self.run("fetch", "--tarball", self.tarball)
        return self.run("apply")

    def commit_in_tree(self, rel, text, message):
        path = self.tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(self.tree, "add", rel)
        git(self.tree, "-c", "user.name=Dev", "-c", "user.email=dev@x.invalid",
            "commit", "-q", "-m", message)

    def snapshot(self):
        """Bytes of every file of the repository outside build/."""
        return {p.relative_to(self.root).as_posix(): p.read_bytes()
                for p in self.root.rglob("*")
                if p.is_file() and "build" not in p.relative_to(self.root).parts
                and ".git" not in p.relative_to(self.root).parts}


@pytest.fixture
def repo(tmp_path):
    return Repo(tmp_path)


def make_series(repo):
    """A series of two patches and one new file, made the maintainer's way."""
    repo.fetch_and_apply()
    text = (repo.tree / "Objects" / "genobject.c").read_text()
    repo.commit_in_tree("Objects/genobject.c", text.replace("line 5\n",
                                                             "line five\n"),
                        "Spell out five\n\nBecause words read better.")
    repo.commit_in_tree("Objects/awaitableobject.c", "/* new */\n",
                        "Add the awaitable object")
    text = (repo.tree / "Objects" / "object.c").read_text()
    repo.commit_in_tree("Objects/object.c", text.replace("object 30\n",
                                                          "object thirty\n"),
                        "Ready the awaitable type")
    repo.run("refresh")


@pytest.mark.parametrize("script", SCRIPTS)
def test_help(repo, script):
    proc = repo.run(script, "--help")
    assert "usage:" in proc.stdout


def test_fetch_tarball(repo):
    proc = repo.run("fetch", "--tarball", repo.tarball)
    upstream = Path(proc.stdout.strip().splitlines()[-1])
    assert (upstream / "Include" / "patchlevel.h").exists()
    assert "series is made against 3.13.15" in proc.stderr
    # A rerun reuses the extracted tree.
    proc = repo.run("fetch", "--tarball", repo.tarball)
    assert "already extracted" in proc.stderr


def test_fetch_truncated_tarball(repo, tmp_path):
    bad = tmp_path / "bad.tar.xz"
    bad.write_bytes(repo.tarball.read_bytes()[:200])
    proc = repo.run("fetch", "--tarball", bad, check=False)
    assert proc.returncode == 1
    assert "corrupt or truncated" in proc.stderr
    errors = [l for l in proc.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1 and "corrupt or truncated" in errors[0]
    assert not (repo.root / "build" / "upstream").exists()
    leftovers = [p.name for p in (repo.root / "build").iterdir()
                 if p.name != "cache"]
    assert leftovers == []


def test_fetch_bad_inputs(repo, tmp_path):
    proc = repo.run("fetch", "--source", tmp_path, check=False)
    assert proc.returncode == 1 and "not a CPython source tree" in proc.stderr
    proc = repo.run("fetch", "--tarball", tmp_path / "nope.tar.xz",
                    check=False)
    assert proc.returncode == 1 and "no such file" in proc.stderr
    for series in ("2.7", "banana", "3.12"):
        proc = repo.run("fetch", "--series", series, check=False)
        assert proc.returncode == 1
        assert "series" in proc.stderr
    other = make_cpython(tmp_path / "other", version="3.14.1")
    proc = repo.run("fetch", "--source", other, "--series", "3.13",
                    check=False)
    assert proc.returncode == 1 and "not of the 3.13 series" in proc.stderr


def test_fetch_source_checkout(repo, tmp_path):
    src = make_cpython(tmp_path / "checkout")
    git(src, "init", "-q")
    git(src, "add", "-A")
    git(src, "-c", "user.name=a", "-c", "user.email=a@x.invalid", "commit",
        "-qm", "x")
    (src / "untracked.txt").write_text("not exported\n")
    repo.run("fetch", "--source", src)
    upstream = repo.root / "build" / "upstream"
    assert (upstream / "Objects" / "genobject.c").exists()
    assert not (upstream / "untracked.txt").exists()


def test_fetch_refuses_in_tree_build(repo, tmp_path):
    src = make_cpython(tmp_path / "built")
    (src / "Makefile").write_text("all:\n")
    proc = repo.run("fetch", "--source", src, check=False)
    assert proc.returncode == 1 and "make distclean" in proc.stderr


def test_apply_creates_commits_and_is_idempotent(repo):
    make_series(repo)
    assert (repo.root / "patches" / "series").read_text().splitlines()[-2:] \
        == ["0001-Spell-out-five.patch", "0002-Ready-the-awaitable-type.patch"]
    assert (repo.root / "Objects" / "awaitableobject.c").read_text() \
        == "/* new */\n"
    before = repo.snapshot()
    # Rebuild the tree from the repository alone.
    shutil.rmtree(repo.tree)
    repo.run("apply")
    log = git(repo.tree, "log", "--format=%s").stdout.splitlines()
    assert log == ["Ready the awaitable type", "Spell out five",
                   "Add the new files of the series", f"CPython {VERSION}"]
    assert (repo.tree / "Objects" / "awaitableobject.c").exists()
    mtime = (repo.tree / "Objects" / "object.c").stat().st_mtime_ns
    proc = repo.run("apply")
    assert "nothing to do" in proc.stderr
    assert (repo.tree / "Objects" / "object.c").stat().st_mtime_ns == mtime
    # apply -> refresh with no edits changes nothing.
    assert repo.run("refresh", "--check").returncode == 0
    repo.run("refresh")
    assert repo.snapshot() == before


def test_patches_git_am_onto_plain_checkout(repo, tmp_path):
    make_series(repo)
    plain = tmp_path / "plain"
    shutil.copytree(repo.upstream_src, plain)
    git(plain, "init", "-q")
    git(plain, "add", "-A")
    git(plain, "-c", "user.name=a", "-c", "user.email=a@x.invalid", "commit",
        "-qm", "upstream")
    patches = sorted((repo.root / "patches").glob("*.patch"))
    proc = git(plain, "-c", "user.name=a", "-c", "user.email=a@x.invalid",
               "am", *map(str, patches), check=False)
    assert proc.returncode == 0, proc.stderr
    assert "line five" in (plain / "Objects" / "genobject.c").read_text()
    patch_text = patches[0].read_text()
    assert "Because words read better." in patch_text
    assert patch_text.startswith("From 0000000000000000000000000000000000000000")
    assert all("awaitableobject" not in p.read_text() for p in patches)


def test_refresh_exports_edits(repo):
    make_series(repo)
    text = (repo.tree / "Objects" / "object.c").read_text()
    repo.commit_in_tree("Objects/object.c", text.replace("object 2\n",
                                                          "object two\n"),
                        "Spell out two")
    repo.commit_in_tree("Objects/awaitableobject.c", "/* newer */\n",
                        "Improve the awaitable object")
    assert repo.run("refresh", "--check", check=False).returncode == 1
    repo.run("refresh")
    names = (repo.root / "patches" / "series").read_text().split()
    assert "0003-Spell-out-two.patch" in names
    assert not any("Improve" in n for n in names)
    assert (repo.root / "Objects" / "awaitableobject.c").read_text() \
        == "/* newer */\n"
    assert "nothing to do" in repo.run("apply").stderr


def test_refresh_refuses_uncommitted(repo):
    make_series(repo)
    (repo.tree / "Objects" / "object.c").write_text("edited\n")
    proc = repo.run("refresh", check=False)
    assert proc.returncode == 1 and "uncommitted changes" in proc.stderr


def test_apply_refuses_to_discard_unexported_work(repo):
    make_series(repo)
    repo.commit_in_tree("Objects/genobject.c", "rewritten\n", "Local work")
    # The series changes underneath (say, after a git pull).
    series = repo.root / "patches" / "series"
    lines = series.read_text().splitlines()
    series.write_text("\n".join(lines[:-1] + ["# " + lines[-1]]) + "\n")
    proc = repo.run("apply", check=False)
    assert proc.returncode == 1 and "scripts/refresh" in proc.stderr
    assert "rewritten" in (repo.tree / "Objects" / "genobject.c").read_text()
    repo.run("apply", "--force")
    log = git(repo.tree, "log", "--format=%s").stdout.splitlines()
    assert log[0] == "Spell out five"


def test_reapplying_keeps_the_times_of_unchanged_files(repo):
    # Applying a changed series resets every file of the series; those it
    # gives back unchanged keep their times, so make rebuilds only what the
    # change affects.
    make_series(repo)
    genobject = repo.tree / "Objects" / "genobject.c"
    awaitable = repo.tree / "Objects" / "awaitableobject.c"
    object_c = repo.tree / "Objects" / "object.c"
    old = 1_000_000_000 * 10**9
    for path in (genobject, awaitable, object_c):
        os.utime(path, ns=(old, old))
    (repo.root / "Objects" / "awaitableobject.c").write_text("/* v2 */\n")
    proc = repo.run("apply")
    assert "1 of 3 files of the series changed" in proc.stderr
    assert awaitable.read_text() == "/* v2 */\n"
    assert awaitable.stat().st_mtime_ns > old
    assert genobject.stat().st_mtime_ns == old
    assert object_c.stat().st_mtime_ns == old


def test_apply_force_discards_uncommitted_edits(repo):
    make_series(repo)
    (repo.tree / "Objects" / "object.c").write_text("edited\n")
    (repo.root / "Objects" / "awaitableobject.c").write_text("/* v2 */\n")
    proc = repo.run("apply", check=False)
    assert proc.returncode == 1 and "--force" in proc.stderr
    repo.run("apply", "--force")
    assert "object thirty" in (repo.tree / "Objects" / "object.c").read_text()
    assert (repo.tree / "Objects" / "awaitableobject.c").read_text() \
        == "/* v2 */\n"


def test_disabled_patch_is_skipped_and_kept(repo):
    make_series(repo)
    series = repo.root / "patches" / "series"
    lines = series.read_text().splitlines()
    series.write_text("\n".join(lines[:-2] + ["# " + lines[-2], lines[-1]])
                      + "\n")
    repo.run("apply")
    log = git(repo.tree, "log", "--format=%s").stdout.splitlines()
    assert "Spell out five" not in log and "Ready the awaitable type" in log
    repo.run("refresh")
    assert (repo.root / "patches" / "0001-Spell-out-five.patch").exists()
    assert "# 0001-Spell-out-five.patch" in series.read_text()


def test_failing_hunk_is_reported_and_tree_left_at_last_good(repo):
    make_series(repo)
    patch = repo.root / "patches" / "0002-Ready-the-awaitable-type.patch"
    patch.write_text(patch.read_text().replace(" object 29\n",
                                               " object twenty-nine\n"))
    proc = repo.run("apply", "--check", check=False)
    assert proc.returncode == 1
    assert "ok      0001-Spell-out-five.patch" in proc.stdout
    assert ("FAILED  0002-Ready-the-awaitable-type.patch does not apply: the "
            "hunk at Objects/object.c line 27") in proc.stdout
    # --check did not touch the tree, which still holds both patches.
    log = git(repo.tree, "log", "--format=%s").stdout.splitlines()
    assert log[0] == "Ready the awaitable type"
    proc = repo.run("apply", check=False)
    assert proc.returncode == 1
    err = proc.stderr.strip().splitlines()[-1]
    assert "0002-Ready-the-awaitable-type.patch" in err
    assert "Objects/object.c line 27" in err
    log = git(repo.tree, "log", "--format=%s").stdout.splitlines()
    assert log[0] == "Spell out five"
    assert not (repo.tree / ".git" / "rebase-apply").exists()


def test_new_file_clashing_with_upstream_is_refused(repo):
    repo.run("fetch", "--tarball", repo.tarball)
    (repo.root / "Objects").mkdir()
    (repo.root / "Objects" / "object.c").write_text("mine\n")
    proc = repo.run("apply", check=False)
    assert proc.returncode == 1 and "exists upstream" in proc.stderr


def test_apply_without_fetch(repo):
    proc = repo.run("apply", check=False)
    assert proc.returncode == 1 and "scripts/fetch" in proc.stderr


def load_script(name):
    loader = importlib.machinery.SourceFileLoader(
        f"script_{name}", str(ROOT / "scripts" / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_debian_mirror_from_apt_configuration(tmp_path, monkeypatch):
    fetch = load_script("fetch")
    etc = tmp_path / "apt"
    (etc / "sources.list.d").mkdir(parents=True)
    (etc / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.invalid/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /keys/debian.gpg\n")
    (etc / "sources.list.d" / "other.list.disabled").write_text(
        "deb http://other.invalid/x stable main\n")
    monkeypatch.setenv("SERIES_APT_ETC", str(etc))
    assert fetch.debian_mirror() == ("http://mirror.invalid/debian",
                                     "/keys/debian.gpg")
    (etc / "sources.list.d" / "debian.sources").unlink()
    (etc / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://one.invalid/debian bookworm main\n")
    assert fetch.debian_mirror() == ("http://one.invalid/debian",
                                     fetch.DEFAULT_KEYRING)
    (etc / "sources.list").write_text("")
    with pytest.raises(fetch.Error):
        fetch.debian_mirror()


def test_upstream_version_of_debian_versions():
    fetch = load_script("fetch")
    assert fetch.upstream_version_of("3.13.15-1") == "3.13.15"
    assert fetch.upstream_version_of("3.13.5-2+deb13u5") == "3.13.5"
    assert fetch.upstream_version_of("1:3.14.0~rc1-1") == "3.14.0"


def test_test_names():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import common
    finally:
        sys.path.pop(0)
    assert common.test_names([
        "Lib/test/test_capi/test_awaitable.py", "Lib/test/test_types.py",
        "Lib/test/test_asyncio/utils.py", "Lib/types.py",
        "Lib/test/support/__init__.py",
    ]) == ["test_asyncio", "test_capi.test_awaitable", "test_types"]


REGRTEST_TAIL = """\
2 tests failed again:
    test_cmd_line test_compileall

== Tests result: FAILURE then FAILURE ==

2 re-run tests:
    test_cmd_line test_compileall test_flaky

3 tests failed:
    test_cmd_line test_compileall
    test_socket

1 test OK.

Total tests: run=240 failures=6 skipped=8
"""


def test_regrtest_failures_are_parsed():
    test = load_script("test")
    assert test.regrtest_failures(REGRTEST_TAIL) == {
        "test_cmd_line", "test_compileall", "test_socket"}
    assert test.regrtest_failures("== Tests result: SUCCESS ==\n") == set()


def full_check_with(monkeypatch, patched_failed, unpatched_failed, whole):
    """Run scripts/test's check_full with fake builds and regrtest runs."""
    test = load_script("test")
    calls = []

    def fake_run(label, patched, jobs, tests=()):
        calls.append((label, tuple(tests)))
        failed = set(patched_failed if patched else unpatched_failed)
        if tests:
            failed &= set(tests)
        return 2 if failed else 0, failed, "Total tests: run=1"

    monkeypatch.setattr(test, "build", lambda *a, **k: None)
    monkeypatch.setattr(test, "run_regrtest", fake_run)
    # Every test exists upstream but test_new, which the series adds.
    monkeypatch.setattr(test, "test_exists",
                        lambda src, name: name != "test_new")
    test.RESULTS.clear()
    test.check_full(3, whole)
    return test.RESULTS[-1], calls


def test_full_suite_verdict(monkeypatch, capsys):
    # Failures of the environment fail unpatched too: no new failure, and
    # only the patched failures run on the unpatched build.
    (name, ok, detail), calls = full_check_with(
        monkeypatch, {"test_socket", "test_cmd_line"},
        {"test_socket", "test_cmd_line", "test_other"}, whole=False)
    assert ok and detail == "no new failures"
    assert calls == [("patched", ()),
                     ("unpatched", ("test_cmd_line", "test_socket"))]
    assert "fail on both (the environment's): test_cmd_line test_socket" \
        in capsys.readouterr().out
    # A test failing only patched is a new failure.
    (name, ok, detail), calls = full_check_with(
        monkeypatch, {"test_socket", "test_types"}, {"test_socket"},
        whole=False)
    assert not ok and detail == "1 new failures: test_types"
    # A test the series adds "fails" unpatched by not existing: new.
    (name, ok, detail), calls = full_check_with(
        monkeypatch, {"test_socket", "test_new"}, {"test_socket", "test_new"},
        whole=False)
    assert not ok and detail == "1 new failures: test_new"
    # Nothing failed patched: no baseline run at all.
    (name, ok, detail), calls = full_check_with(monkeypatch, set(), set(),
                                                whole=False)
    assert ok and calls == [("patched", ())]
    # --whole-baseline runs the whole suite on both.
    (name, ok, detail), calls = full_check_with(
        monkeypatch, {"test_socket"}, {"test_socket"}, whole=True)
    assert ok and calls == [("patched", ()), ("unpatched", ())]


def load_common():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import common
    finally:
        sys.path.pop(0)
    return common


def test_sanitizer_variants_are_configured_as_cpython_ci():
    common = load_common()
    assert common.VARIANTS["asan"] == [
        "--with-pydebug", "--with-address-sanitizer",
        "--with-undefined-behavior-sanitizer", "--without-pymalloc"]
    assert common.VARIANTS["tsan"] == [
        "--disable-gil", "--with-thread-sanitizer", "--with-pydebug"]
    assert set(common.SANITIZER_VARIANTS) <= set(common.VARIANTS)


def test_sanitizer_env(tmp_path):
    common = load_common()
    tree, reports = tmp_path / "src", tmp_path / "reports"
    assert common.sanitizer_env("debug", tree, reports) == {}
    assert not reports.exists()
    env = common.sanitizer_env("asan", tree, reports)
    assert reports.is_dir()
    asan = dict(opt.split("=", 1) for opt in env["ASAN_OPTIONS"].split(":"))
    assert asan["detect_leaks"] == "0" and asan["handle_segv"] == "0"
    assert asan["log_path"] == str(reports / "asan")
    assert f"log_path={reports / 'ubsan'}" in env["UBSAN_OPTIONS"]
    env = common.sanitizer_env("tsan", tree, reports)
    tsan = dict(opt.split("=", 1) for opt in env["TSAN_OPTIONS"].split())
    assert tsan == {
        "suppressions": str(tree / "Tools/tsan/suppressions_free_threading.txt"),
        "handle_segv": "0", "log_path": str(reports / "tsan")}


def test_sanitizer_reports(tmp_path):
    common = load_common()
    assert common.sanitizer_reports(tmp_path / "missing") == []
    (tmp_path / "asan.123").write_text(
        "=================\n==123==ERROR: AddressSanitizer: heap-use-after-"
        "free on address 0x1\n    #0 0x2 in f\n")
    (tmp_path / "tsan.7").write_text(
        "==================\nWARNING: ThreadSanitizer: data race (pid=7)\n")
    (tmp_path / "ubsan.9").write_text(
        "Objects/x.c:3:5: runtime error: signed integer overflow\n")
    (tmp_path / "empty.1").write_text("\n")
    found = [(p.name, first) for p, first in
             common.sanitizer_reports(tmp_path)]
    assert found == [
        ("asan.123", "==123==ERROR: AddressSanitizer: heap-use-after-free "
                     "on address 0x1"),
        ("tsan.7", "WARNING: ThreadSanitizer: data race (pid=7)"),
        ("ubsan.9", "Objects/x.c:3:5: runtime error: signed integer "
                    "overflow")]


TSAN_REPORT = """==================
WARNING: ThreadSanitizer: data race (pid={pid})
  Write of size 8 at 0x7ba000000090 by thread T8:
    #0 close ../../src/libsanitizer/tsan/tsan_interceptors_posix.cpp:1749
    #1 sock_close {src}/Modules/socketmodule.c:{line} (_socket.so+0x6c3b)
    #2 method_vectorcall_NOARGS {src}/Objects/descrobject.c:448
  Previous read of size 8 at 0x7ba000000090 by main thread:
    #0 send ../../src/sanitizer_common/sanitizer_common_interceptors.inc:6798
    #1 sock_send_impl {src}/Modules/socketmodule.c:4407 (_socket.so+0x11a12)
"""


def test_test_exists(tmp_path):
    test = load_script("test")
    (tmp_path / "Lib" / "test" / "test_asyncio").mkdir(parents=True)
    (tmp_path / "Lib" / "test" / "test_asyncio" / "test_tasks.py").touch()
    (tmp_path / "Lib" / "test" / "test_socket.py").touch()
    for name in ("test_socket", "test_asyncio", "test_asyncio.test_tasks",
                 "test.test_asyncio.test_tasks"):
        assert test.test_exists(tmp_path, name), name
    for name in ("test_new", "test_asyncio.test_new", "test.test_new"):
        assert not test.test_exists(tmp_path, name), name


def test_warning_signatures(tmp_path):
    # The same race seen on the patched and the unpatched build (other
    # paths, pids and line numbers) has one signature; another has not.
    test = load_script("test")
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    a.write_text(TSAN_REPORT.format(pid=1, src="/b/src", line=3417))
    b.write_text(TSAN_REPORT.format(pid=2, src="/b/upstream", line=3400))
    c.write_text(TSAN_REPORT.format(pid=3, src="/b/src", line=3417)
                 .replace("sock_send_impl", "awaitable_run"))
    assert test.warning_signatures(a) == test.warning_signatures(b) == [(
        "data race", (("close", "sock_close"), ("send", "sock_send_impl")))]
    assert test.warning_signatures(c) != test.warning_signatures(a)
    # The same race reported from its other access (which of the two came
    # second differs between runs: seen at stop 28 in test_tasks) too.
    lines = a.read_text().splitlines(keepends=True)
    swapped = tmp_path / "swapped"
    swapped.write_text("".join(lines[:2] + lines[6:9] + lines[2:6]))
    assert "#1 sock_send_impl" in lines[8]
    assert test.warning_signatures(swapped) == test.warning_signatures(a)
    # One signature per warning of a report that holds several, as TSan
    # writes them: each warning's frames are its own.
    d = tmp_path / "d"
    d.write_text(TSAN_REPORT.format(pid=1, src="/s", line=1)
                 + "==================\n"
                 + TSAN_REPORT.format(pid=1, src="/s", line=1)
                 .replace("sock_close", "awaitable_send"))
    assert test.warning_signatures(d) == [
        ("data race", (("close", "sock_close"), ("send", "sock_send_impl"))),
        ("data race", (("close", "awaitable_send"),
                       ("send", "sock_send_impl")))]
    # Frames before any warning (a stray line) belong to none.
    e = tmp_path / "e"
    e.write_text("    #0 main /s/Programs/python.c:15\n")
    assert test.warning_signatures(e) == []
    # Inline helpers of the headers are skipped: the same access to a
    # shared exception is reported through Py_INCREF() of one field on one
    # run and through another helper on the next (stop 30).
    f = tmp_path / "f"
    f.write_text(TSAN_REPORT.format(pid=1, src="/s", line=1).replace(
        "    #0 close ../../src/libsanitizer/tsan/tsan_interceptors_posix"
        ".cpp:1749\n",
        "    #0 _Py_atomic_load_uint32_relaxed /s/Include/cpython/pyatomic_gcc"
        ".h:339 (python+0x1)\n"
        "    #1 Py_INCREF /s/Include/object.h:810 (python+0x1)\n"
        "    #2 close ../../src/libsanitizer/tsan/tsan_interceptors_posix"
        ".cpp:1749\n").replace("#1 sock_close", "#3 sock_close"))
    assert test.warning_signatures(f) == test.warning_signatures(a)


def test_warning_seen_without_a_stack(tmp_path):
    # TSan may fail to restore the stack of a race's earlier access: the
    # warning then has one access stack, and is the unpatched build's if
    # one of its warnings has that stack, not otherwise.
    test = load_script("test")
    full = tmp_path / "full"
    full.write_text(TSAN_REPORT.format(pid=1, src="/s", line=1))
    lines = full.read_text().splitlines(keepends=True)
    half = tmp_path / "half"
    half.write_text("".join(lines[:7]) + "    [failed to restore the "
                    "stack]\n")
    assert lines[6].startswith("  Previous read")
    other = tmp_path / "other"
    other.write_text(half.read_text().replace("sock_close", "awaitable_run"))
    u_sigs = set(test.warning_signatures(full))
    [sig] = test.warning_signatures(half)
    assert sig == ("data race", (("close", "sock_close"),))
    assert test.warning_seen(sig, u_sigs)
    [sig] = test.warning_signatures(other)
    assert not test.warning_seen(sig, u_sigs)
    assert not test.warning_seen(("thread leak", sig[1]), u_sigs)
    assert test.unmatched_reports([(half, ""), (other, "")],
                                  [(full, "")]) == [other]


def sanitizer_check_with(monkeypatch, tmp_path, patched, unpatched,
                         upstream_built=True):
    """check_sanitizers with fake regrtest runs: patched and unpatched map
    the failing test names to the reports (TSan report texts) they write
    (unpatched: or a list of such maps, one per run there)."""
    test = load_script("test")
    runs = []

    def fake_run(python, variant, src, reports, names, jobs, label):
        baseline = "upstream" in label
        runs.append((label, tuple(names)))
        # The patched run runs whole packages (test_asyncio), the baseline
        # the failed test modules.
        failed = unpatched if baseline else patched
        if baseline and isinstance(unpatched, list):
            failed = unpatched[sum(label.startswith("tsan-upstream")
                                   for label, _ in runs) - 1]
        if baseline:
            failed = {n: r for n, r in failed.items() if n in names}
        reports.mkdir(parents=True, exist_ok=True)
        found = []
        for i, (name, text) in enumerate(failed.items()):
            path = reports / f"tsan.{label}.{i}"
            path.write_text(text)
            found.append((path, "WARNING"))
        out = ""
        if failed:
            out = f"{len(failed)} tests failed:\n    " + " ".join(failed)
        return (2 if failed else 0), out, found

    upstream = tmp_path / "upstream-python"
    if upstream_built:
        upstream.write_text("")
    else:
        upstream.unlink(missing_ok=True)
    monkeypatch.setattr(test, "require_sanitizer_build", lambda v: "python")
    monkeypatch.setattr(test, "sanitizer_run", fake_run)
    monkeypatch.setattr(test, "series_tests", lambda: ["test_a"])
    monkeypatch.setattr(test.common, "built_python",
                        lambda variant, patched=True: upstream)
    monkeypatch.setattr(test.common, "upstream_dir", lambda: tmp_path)
    for name in ("test_a.py", "test_asyncio/test_ssl.py"):
        (tmp_path / "Lib" / "test" / name).parent.mkdir(parents=True,
                                                       exist_ok=True)
        (tmp_path / "Lib" / "test" / name).write_text("")
    monkeypatch.setattr(test, "LOGS", tmp_path / "logs")
    test.RESULTS.clear()
    test.check_sanitizers(["tsan"], 2)
    return test.RESULTS[-1], runs


def test_sanitizer_verdict_against_the_unpatched_build(
        monkeypatch, tmp_path, capsys):
    race = TSAN_REPORT.format(pid=1, src="/s", line=1)
    other = race.replace("sock_send_impl", "awaitable_run")
    # The environment's failure: the same test fails unpatched with the
    # same report.  Only the failed test runs there.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_asyncio.test_ssl": race},
        {"test_asyncio.test_ssl": race})
    assert ok, detail
    assert runs[1] == ("tsan-upstream", ("test_asyncio.test_ssl",))
    assert "test_asyncio.test_ssl fail there too" in detail
    # A report the unpatched build does not have fails the check, even in
    # a test that fails there too.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_asyncio.test_ssl": other},
        {"test_asyncio.test_ssl": race})
    assert not ok and "reports not seen unpatched: 1" in detail
    # Reports are matched warning by warning: the unpatched process may
    # have seen the same races and one more (seen at stop 27 in
    # test_tasks), or in another order.
    second = race.replace("sock_close", "exc_set_tb")
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_asyncio.test_ssl": race + second},
        {"test_asyncio.test_ssl": other + second + race})
    assert ok, detail
    # But a report with one warning not seen unpatched is new, whatever
    # else it holds, and so is one with no warning recognised.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_asyncio.test_ssl": race + other},
        {"test_asyncio.test_ssl": race + second})
    assert not ok and "reports not seen unpatched: 1" in detail
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_asyncio.test_ssl": "garbled\n"},
        {"test_asyncio.test_ssl": race})
    assert not ok and "reports not seen unpatched: 1" in detail
    # A test that passes unpatched is run there again, and fails there
    # too if it does once: the environment's races show in some runs only
    # (_testinternalcapi's test_lock_two_threads, at stop 28).  When every
    # report is matched, only the tests that passed run again.
    lock = race.replace("sock_close", "test_lock_two_threads")
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path,
        {"test_asyncio.test_ssl": race, "test_a": race},
        [{"test_asyncio.test_ssl": race}, {}, {"test_a": race}])
    assert ok, detail
    assert [r for r in runs if r[0] != "tsan"] == [
        ("tsan-upstream", ("test_a", "test_asyncio.test_ssl")),
        ("tsan-upstream-2", ("test_a",)),
        ("tsan-upstream-3", ("test_a",))]
    assert "3 runs: of the 2 failed tests, test_a test_asyncio.test_ssl " \
           "fail there too" in detail
    # A report not seen unpatched runs all the failed tests there again
    # (a report does not name its test): the same race, reached through
    # other accesses in the first run.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_a": lock, "test_asyncio.test_ssl": race},
        [{"test_a": lock, "test_asyncio.test_ssl": other},
         {"test_asyncio.test_ssl": race}])
    assert ok, detail
    assert [r for r in runs if r[0] != "tsan"] == [
        ("tsan-upstream", ("test_a", "test_asyncio.test_ssl")),
        ("tsan-upstream-2", ("test_a", "test_asyncio.test_ssl"))]
    # Three runs at most.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_a": lock}, [{}, {}, {}, {"test_a": lock}])
    assert not ok and "new failures: test_a" in detail
    assert len(runs) == 4
    # A test that passes unpatched is a new failure.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_a": race}, {})
    assert not ok and "new failures: test_a" in detail
    # So is one that the series adds: it "fails" unpatched by not existing.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_new": race}, {"test_new": race})
    assert not ok and "new failures: test_new" in detail
    # Without the unpatched build, a failure fails, and says what to build.
    (name, ok, detail), runs = sanitizer_check_with(
        monkeypatch, tmp_path, {"test_asyncio.test_ssl": race},
        {"test_asyncio.test_ssl": race}, upstream_built=False)
    assert not ok and "--variant tsan --unpatched" in detail
    assert len(runs) == 1


def test_sanitizers_require_their_build(repo):
    # Never built implicitly (they take long): the error names the command.
    repo.fetch_and_apply()
    proc = repo.run("test", "--sanitizers", "tsan", check=False)
    assert proc.returncode == 1
    assert "no tsan build; make it first with 'scripts/build --variant " \
           "tsan'" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "summary: 0 passed, 1 failed"
    # A build older than the tree is refused too.
    obj = repo.root / "build" / "tsan" / "obj"
    obj.mkdir(parents=True)
    (obj / "python").write_text("")
    (obj.parent / "stamp.json").write_text('{"state": "old"}')
    proc = repo.run("test", "--sanitizers", "tsan", check=False)
    assert "the tsan build is older than build/src; update it with " \
           "'scripts/build --variant tsan'" in proc.stdout
    proc = repo.run("test", "--sanitizers", "msan", check=False)
    assert proc.returncode == 2 and "invalid choice: 'msan'" in proc.stderr


def test_fuzz_cases_are_counted():
    test = load_script("test")
    out = ("test_x ... ok\nawaitable model: 1200 cases run (Hypothesis "
           "6.170.15)\nawaitable model: 34 cases run (Hypothesis 6.170.15)\n")
    assert test.fuzz_cases(out) == 1234
    assert test.fuzz_cases("no hypothesis\n") is None
    assert test.fuzz_cases("awaitable model: 18 cases run (examples "
                           "only)\n") is None


def test_fuzz_requirements_are_pinned():
    lines = [line for line in
             (ROOT / "tests" / "requirements-fuzz.txt").read_text()
             .splitlines() if line and not line.startswith("#")]
    assert any(line.startswith("hypothesis==") for line in lines)
    assert all("==" in line for line in lines)


def test_fuzz_check(monkeypatch, tmp_path):
    test = load_script("test")
    calls = []
    monkeypatch.setattr(test, "LOGS", tmp_path)
    monkeypatch.setattr(test, "patched_venv",
                        lambda name, reqs: calls.append((name, reqs))
                        or tmp_path / "python")
    output = ("test_protocol ... ok\n"
              "awaitable model: 512 cases run (Hypothesis 6.170.15)\n")

    def fake_run(cmd, log, cwd=None, env=None, what=None):
        calls.append((cmd, env))
        return 0, output

    monkeypatch.setattr(test, "run_to_log", fake_run)
    # Before the series has the model test, the check says so and passes.
    monkeypatch.setattr(test, "series_tests", lambda: ["test_capi.test_x"])
    test.RESULTS.clear()
    test.check_fuzz(512)
    assert test.RESULTS[-1][1] and "skipped" in test.RESULTS[-1][2]
    assert calls == []
    monkeypatch.setattr(test, "series_tests",
                        lambda: ["test_capi.test_awaitable_model"])
    test.check_fuzz(512)
    name, ok, detail = test.RESULTS[-1]
    assert ok and detail == "512 cases compared with the model"
    assert calls[0] == ("fuzz-venv", test.FUZZ_REQUIREMENTS)
    cmd, env = calls[1]
    assert cmd[-1] == "test_capi.test_awaitable_model"
    assert env == {"AWAITABLE_MODEL_EXAMPLES": "512"}
    # Hypothesis did not run (only the examples did): the check fails.
    output = "awaitable model: 18 cases run (examples only)\n"
    test.check_fuzz(10)
    assert not test.RESULTS[-1][1]


def test_callgrind_refs_are_parsed():
    bench = load_script("bench")
    stderr = ("==2976== Events    : Ir\n==2976== Collected : 312156785\n"
              "==2976== \n==2976== I   refs:      312,156,785\n")
    assert bench.callgrind_refs(stderr) == 312156785
    assert bench.callgrind_refs("==1== I   refs:      1,234\n") == 1234
    assert bench.callgrind_refs("valgrind: no such file\n") is None


def test_callgrind_cost_is_the_difference_per_loop(monkeypatch, tmp_path):
    bench = load_script("bench")
    monkeypatch.setattr(bench, "LOGS", tmp_path)
    # Start-up costs 1,000,000; each loop of a case costs 900, each
    # asyncio loop (10,000 calls) 400,000,000.
    def fake_count(vpython, ext_dir, case, loops, log):
        per = 400_000_000 if case.startswith("gather/") else 900
        return 1_000_000 + per * loops
    monkeypatch.setattr(bench, "callgrind_count", fake_count)
    res = bench.run_callgrind("python", tmp_path,
                              ["const/METH_ASYNC", "gather/async def"], "t")
    assert res["const/METH_ASYNC"]["median"] == 900
    assert res["gather/async def"]["median"] == 40_000


REGRTEST_RERUN = """\
0:08:35 load avg: 2.11 Re-running 2 failed tests in verbose mode in subprocesses
Re-running test_cmd_line in verbose mode (matching: test_buffering)
test_buffering (test.test_cmd_line.CmdLineTest.test_buffering) ... FAIL

======================================================================
FAIL: test_buffering (test.test_cmd_line.CmdLineTest.test_buffering)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "Lib/test/test_cmd_line.py", line 386, in test_buffering
    self.assertEqual(proc.stdout,
AssertionError: 'False True' != 'False False'
- False True
+ False False


----------------------------------------------------------------------
Ran 1 test in 0.071s

FAILED (failures=1)
test test_cmd_line failed
0:08:45 load avg: 1.79 [2/2/2] test_socket failed (1 error)
Re-running test_socket in verbose mode (matching: testStream)
testStream (test.test_socket.VSOCKTest.testStream) ... ERROR

======================================================================
ERROR: testStream (test.test_socket.VSOCKTest.testStream)
----------------------------------------------------------------------
Traceback (most recent call last):
  File "Lib/socket.py", line 295, in accept
    fd, addr = self._accept()
TimeoutError: timed out

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "Lib/test/test_socket.py", line 441, in raise_queued_exception
    raise self.queued_exception
OSError: [Errno 19] No such device

----------------------------------------------------------------------
Ran 1 test in 0.5s
"""


def test_failure_details_name_each_failed_test_and_its_exception():
    test = load_script("test")
    assert test.failure_details(REGRTEST_RERUN, "test_cmd_line") == [
        "FAIL: test_buffering (test.test_cmd_line.CmdLineTest.test_buffering)",
        "  AssertionError: 'False True' != 'False False'"]
    # Of chained exceptions, the last one raised.
    assert test.failure_details(REGRTEST_RERUN, "test_socket") == [
        "regrtest: failed (1 error)",
        "ERROR: testStream (test.test_socket.VSOCKTest.testStream)",
        "  OSError: [Errno 19] No such device"]
    # Never another test's failures.
    assert test.failure_details(REGRTEST_RERUN, "test_tarfile") == []


def test_failure_details_quote_regrtest_on_a_crash_or_a_timeout():
    """A worker that crashed or timed out leaves no FAIL or ERROR line:
    regrtest's own progress lines say what happened."""
    test = load_script("test")
    output = (
        "0:07:01 load avg: 2.00 [408/481/3] test_tarfile worker non-zero "
        "exit code (Exit code -11) -- running (1): test_io (31.2 sec)\n"
        "0:07:02 load avg: 2.00 [409/481/3] test_tarfile2 passed\n"
        "0:20:02 load avg: 1.00 [480/481/4] test_zlib timed out (20 min)\n"
        "0:20:10 load avg: 1.00 Re-running 2 failed tests in verbose mode\n"
        "0:20:11 load avg: 1.00 [1/2/1] test_tarfile worker non-zero "
        "exit code (Exit code -11)\n")
    assert test.failure_details(output, "test_tarfile") == [
        "regrtest: worker non-zero exit code (Exit code -11) "
        "-- running (1): test_io (31.2 sec)",
        "regrtest: worker non-zero exit code (Exit code -11)"]
    assert test.failure_details(output, "test_zlib") == [
        "regrtest: timed out (20 min)"]
    assert test.failure_details(output, "test_io") == []


def test_missed_targets_say_what_they_need_and_their_floor():
    bench = load_script("bench")
    counts = {"const/METH_ASYNC": 866, "const/async def": 1_097,
              "const/Cython": 1_427,
              "inner/METH_ASYNC": 1_970, "inner/async def": 1_987,
              "suspend/METH_ASYNC": 3_803, "suspend/async def": 3_702,
              "gather/METH_ASYNC": 41_000, "gather/async def": 40_494,
              "C returns a coroutine": 1_650,
              "C returns a suspending coroutine": 3_300}
    results = {case: {"median": n} for case, n in counts.items()}
    lines = bench.targets(results, fmt=bench.instructions).splitlines()
    assert "- METH_ASYNC const: 0.79x `async def` (target <= 0.8x): met" \
        in lines
    # 0.8 x 1,987 = 1,590 needed; the floor is a coroutine returned by a
    # plain C function and awaited.
    assert ("- METH_ASYNC inner: 0.99x `async def` (target <= 0.8x): "
            "MISSED (met at 1,590 or less; floor 1,650: out of reach)"
            in lines)
    # A floor below what is needed: missed, but not out of reach.
    assert ("- METH_ASYNC suspend: 1.03x `async def` (target <= 1.0x): "
            "MISSED (met at 3,702 or less; floor 3,300)" in lines)
    # Without the reference cases, the constant case has no floor.
    assert ("- const: Cython takes 1.65x the time of METH_ASYNC "
            "(target >= 2.0x): MISSED (met at 714 or less)" in lines)
    assert lines[-1] == bench.FLOOR_NOTE
    # asyncio's floor: METH_ASYNC's (1) plus the rest of async def's (4).
    assert bench.floor(results, "gather") == 866 + 40_494 - 1_097
    assert bench.references(results, bench.instructions) == (
        "For reference, per iteration: with an await of the coroutine of "
        "(2) returned by a plain C function (C returns a coroutine) 1,650; "
        "the same with that of (3) (C returns a suspending coroutine) "
        "3,300.")
    # With them: a done future awaited, plus a C call (sync C call minus
    # the empty loop).
    for case, n in (("done future", 671), ("sync C call", 430),
                    ("empty loop", 250)):
        results[case] = {"median": n}
    lines = bench.targets(results, fmt=bench.instructions).splitlines()
    assert ("- const: Cython takes 1.65x the time of METH_ASYNC "
            "(target >= 2.0x): MISSED (met at 714 or less; floor 851: "
            "out of reach)" in lines)
    # METH_ASYNC below its floor: the floor bounds nothing.
    results["const/METH_ASYNC"] = {"median": 740}
    lines = bench.targets(results, fmt=bench.instructions).splitlines()
    assert ("- const: Cython takes 1.93x the time of METH_ASYNC "
            "(target >= 2.0x): MISSED (met at 714 or less; floor 851, "
            "which METH_ASYNC is below)" in lines)
    # Below it within callgrind's 1%: still a floor.
    results["gather/METH_ASYNC"] = {"median": 40_000}
    results["gather/Cython"] = {"median": 40_300}
    lines = bench.targets(results, fmt=bench.instructions).splitlines()
    assert any(line.startswith("- gather: ") and line.endswith(
        f"floor {bench.floor(results, 'gather'):,}: out of reach)")
        for line in lines)
    results["const/METH_ASYNC"] = {"median": 866}
    assert bench.references(results, bench.instructions).startswith(
        "For reference, per iteration: the driver's loop alone (empty "
        "loop) 250; with a plain C call in it (sync C call) 430; with an "
        "await of an already-done asyncio future (done future) 671; with "
        "an await of the coroutine of (2)")


def test_rounds_interleave_cases_and_pool_their_values(monkeypatch, tmp_path):
    bench = load_script("bench")
    monkeypatch.setattr(bench, "WORK", tmp_path)
    monkeypatch.setattr(bench, "LOGS", tmp_path)
    calls = []
    # The machine slows down by 10% a run: case "a" always takes twice
    # the time of case "b" run beside it.
    def fake_run(name, cmd, env, out_json, log, timeout):
        calls.append((name, cmd[cmd.index("--processes") + 1],
                      cmd[cmd.index("--loops") + 1] if "--loops" in cmd
                      else None))
        if name == "broken" and [c[0] for c in calls].count(name) == 2:
            return None
        t = (2.0 if name == "a" else 1.0) * 1.1 ** len(calls)
        return [t, t], {int(calls[-1][2] or 1000 + len(calls))}
    monkeypatch.setattr(bench, "run_pyperf", fake_run)
    args = ["--processes", "6", "--values", "3"]
    jobs = [("a", ["a.py"], {}), ("b", ["b.py"], {})]
    res = bench.run_rounds(jobs, args, 3, "t", 10)
    # Every other round in reverse; the processes split among the rounds;
    # from the second round on, the loops of the first.
    assert calls == [("a", "2", None), ("b", "2", None),
                     ("b", "2", "1002"), ("a", "2", "1001"),
                     ("a", "2", "1001"), ("b", "2", "1002")]
    assert res["a"]["n"] == 6 and len(res["a"]["rounds"]) == 3
    assert res["a"]["loops"] == [1001]
    rs = bench.round_ratios(res["a"], res["b"])
    assert [round(x, 2) for x in rs] == [1.82, 2.2, 1.82]
    assert bench.by_round(res["a"], res["b"]) == "1.82x to 2.20x"
    # One round only, or a case without rounds (callgrind): no range.
    assert bench.by_round({"median": 1.0}, {"median": 2.0}) == ""
    # A case whose run fails is reported failed, and runs no more.
    calls.clear()
    res = bench.run_rounds([("b", ["b.py"], {}), ("broken", ["x.py"], {})],
                           args, 3, "t", 10)
    assert res["broken"] is None and res["b"]["n"] == 6
    assert [c[0] for c in calls].count("broken") == 2
    assert bench.settings_text(args, 3) == (
        "--processes 6 --values 3, in 3 interleaved rounds of 2 processes")
    assert bench.settings_text(["--processes", "2"], 3).endswith(
        "rounds of 1 process")
    assert bench.settings_text(args, 1) == "--processes 6 --values 3"


def test_verdicts_give_the_range_of_a_ratio_by_round():
    bench = load_script("bench")
    results = {
        "const/METH_ASYNC": {"median": 36.0, "rounds": [35.0, 36.0, 40.0]},
        "const/async def": {"median": 50.0, "rounds": [50.0, 48.0, 50.0]},
    }
    lines = bench.targets(results).splitlines()
    assert lines == ["- METH_ASYNC const: 0.72x `async def`, 0.70x to "
                     "0.80x by round (target <= 0.8x): met"]


def test_full_runs_pin_their_workers_to_one_cpu(monkeypatch):
    bench = load_script("bench")
    monkeypatch.setattr(bench.os, "sched_getaffinity", lambda pid: {0, 1})
    ns = argparse.Namespace
    full = bench.pyperf_options(ns(quick=False, processes=None, affinity=None))
    assert full[-2:] == ["--affinity", "1"]
    assert "--affinity" not in bench.pyperf_options(
        ns(quick=True, processes=None, affinity=None))
    assert "--affinity" not in bench.pyperf_options(
        ns(quick=False, processes=None, affinity="none"))
    opts = bench.pyperf_options(ns(quick=True, processes=4, affinity="0-1"))
    assert opts[opts.index("--affinity") + 1] == "0-1"
    assert opts[opts.index("--processes") + 1] == "4"
    monkeypatch.setattr(bench.os, "sched_getaffinity", lambda pid: {3})
    assert "--affinity" not in bench.pyperf_options(
        ns(quick=False, processes=None, affinity=None))


def test_case_selects_cases_and_benchmarks():
    bench = load_script("bench")
    ns = argparse.Namespace
    cases, names = bench.selection(ns(cases=None, regression=True))
    assert cases == bench.REGRESSION_CASES
    assert names == list(bench.PYPERFORMANCE)
    assert bench.selection(ns(cases=["C calls"], regression=True)) == (
        ["C calls Python"], [])
    cases, names = bench.selection(ns(cases=["tree_tg", "eager_tg", "done"],
                                      regression=True))
    assert cases == ["done future"]
    assert names == ["async_tree_tg", "async_tree_eager_tg"]
    assert bench.selection(ns(cases=None, regression=False)) == (
        bench.MAIN_CASES, [])
    assert bench.selection(ns(cases=["const/M", "sync C"],
                              regression=False)) == (
        ["sync C call", "const/METH_ASYNC"], [])
    # A text that matches nothing names the cases of the mode asked for.
    with pytest.raises(bench.Error, match="'constant' matches no case; "
                       "the cases are: sync C call, empty loop") as exc:
        bench.selection(ns(cases=["constant"], regression=False))
    assert "const/async def" in str(exc.value)
    assert "async_tree" not in str(exc.value)
    with pytest.raises(bench.Error, match="matches no case") as exc:
        bench.selection(ns(cases=["no such case"], regression=True))
    assert "C calls Python" in str(exc.value)
    assert "async_tree_eager_tg" in str(exc.value)


def test_case_matching_nothing_fails_before_building(tmp_path, monkeypatch,
                                                     capsys):
    bench = load_script("bench")
    monkeypatch.setattr(bench, "LOGS", tmp_path / "logs")
    monkeypatch.setattr(bench, "build_python", lambda *a: pytest.fail(
        "built an interpreter for a --case that matches nothing"))
    monkeypatch.setattr(sys, "argv", ["bench", "--case", "constant"])
    assert bench.main() == 1
    out, err = capsys.readouterr()
    assert "matches no case; the cases are:" in err
    assert out.splitlines()[-1] == "bench: 0 passed, 1 failed"


def test_partial_runs_never_replace_the_committed_reports(tmp_path,
                                                          monkeypatch):
    bench = load_script("bench")
    monkeypatch.setattr(bench, "WORK", tmp_path)
    ns = argparse.Namespace
    full = ns(output=None, quick=False, cases=None)
    assert bench.report_path(full, "RESULTS.md") == (
        bench.BENCH_SRC / "RESULTS.md")
    assert bench.report_path(ns(output=None, quick=True, cases=None),
                             "REGRESSION.md") == (
        tmp_path / "REGRESSION-quick.md")
    assert bench.report_path(ns(output=None, quick=False, cases=["x"]),
                             "CALLGRIND.md") == tmp_path / "CALLGRIND-cases.md"
    assert bench.report_path(ns(output=Path("o.md"), quick=True,
                                cases=["x"]), "RESULTS.md") == Path("o.md")


def test_pyperformance_counts_are_one_loop(monkeypatch, tmp_path):
    bench = load_script("bench")
    monkeypatch.setattr(bench, "LOGS", tmp_path)
    monkeypatch.setattr(bench, "pyperformance_cmd",
                        lambda vpython, bench_dir, name: [vpython, name])
    # Start-up costs 5,000,000; a loop of "a" 700, one of "b" fails.
    def fake_argv(argv, ext_dir, log):
        assert argv[2:8] == ["--worker", "--values", "1", "--warmups", "0",
                             "--loops"]
        return None if argv[1] == "b" else 5_000_000 + 700 * argv[8]
    monkeypatch.setattr(bench, "callgrind_argv", fake_argv)
    res = bench.callgrind_pyperformance("python", tmp_path, tmp_path,
                                        ["a", "b"], "t")
    assert res == {"a": {"median": 700}, "b": None}
