"""Issue 18's acceptance test: the sysadmin's path on the machine's real
Apache layout, end to end, once through the Debian package and once through
`make install`: install, `a2enmod chat`, the README's Basic-auth recipe and
an admin secret, the system's apache2 started on a free port, two users in
Chromium chatting both ways in a room the admin API activated, the admin
page; then everything undone.

It CHANGES THE SYSTEM, so it is not a test_*.py file (`pytest tests` never
collects it): scripts/test.sh runs it when root (the README's command and CI:
root on a fresh Debian machine) unless CHAT_SYSTEM_TESTS=0. How it stays safe:
  - it refuses to start (and touches nothing) unless it is root, asked to
    run, and the machine is as a fresh one: libapache2-mod-chat not
    installed, no chat module in mods-available, no mod_chat client or data
    under /usr/share or /usr/local/share, no system apache2 running;
  - it never edits the system's own files: apache2 runs from /etc/apache2 with
    a top-level config in a temporary directory (apache2.conf's text with
    "Include ports.conf" replaced by one Listen on a free loopback port, and
    port-shifted copies of sites-enabled), its pid, lock, runtime and log
    files in that directory too, so ports.conf, the sites and /var/log are
    untouched; what it adds is what the README tells a sysadmin to add
    (the package or make install, a2enmod, a conf-available snippet, a
    htpasswd file, a secret file, edits of the installed chat.conf);
  - everything is undone in finally blocks (apache2 stopped, a2disconf and
    a2dismod with -p, files removed, dpkg --purge or make uninstall), and the
    test then compares a snapshot of /etc/apache2, /var/lib/apache2 (the
    a2enmod state), the module directory, /usr/share/mod_chat,
    /usr/local/share/mod_chat, the package's doc directory, /var/www/html and
    the list of installed packages with the one taken before: any difference
    fails the test and is printed."""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest
import requests

from harness import APACHE, BUILD, ROOT, RedisServer, free_port, port_open, wait_for

ETC = pathlib.Path("/etc/apache2")
WATCHED = [ETC, pathlib.Path("/var/lib/apache2"), pathlib.Path("/usr/lib/apache2/modules"),
           pathlib.Path("/usr/share/mod_chat"), pathlib.Path("/usr/local/share/mod_chat"),
           pathlib.Path("/usr/share/doc/libapache2-mod-chat"), pathlib.Path("/var/www/html")]
SECRET = "system-admin-secret-0123456789"
ARTIFACTS = ROOT / "test-artifacts" / "system-install"


def run(*cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}: {r.stdout}{r.stderr}"
    return r.stdout


def snapshot():
    """Every file, directory and link under WATCHED (type, mode, owner,
    content hash or target) and the installed packages."""
    out = {}
    for top in WATCHED:
        if not top.exists():
            continue
        for dirpath, dirs, files in os.walk(top):
            for name in dirs + files:
                p = pathlib.Path(dirpath) / name
                st = p.lstat()
                if p.is_symlink():
                    what = "link " + os.readlink(p)
                elif p.is_dir():
                    what = "dir"
                else:
                    what = hashlib.sha256(p.read_bytes()).hexdigest()
                out[str(p)] = (what, st.st_mode, st.st_uid, st.st_gid)
        out[str(top)] = ("top", top.stat().st_mode)
    out["packages"] = run("dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n")
    return out


def system_apache_running():
    pid = pathlib.Path("/var/run/apache2/apache2.pid")
    if not pid.exists():
        return False
    try:
        os.kill(int(pid.read_text().strip()), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False


@pytest.fixture(scope="module")
def pristine():
    """Refuse unless allowed and fresh; afterwards, the system as found."""
    assert os.environ.get("CHAT_SYSTEM_TESTS") == "1", "run through scripts/test.sh with CHAT_SYSTEM_TESTS=1"
    assert os.geteuid() == 0, "needs root (CI)"
    assert subprocess.run(["dpkg-query", "-W", "libapache2-mod-chat"],
                          capture_output=True).returncode != 0, "libapache2-mod-chat is installed"
    for p in (ETC / "mods-available" / "chat.load", pathlib.Path("/usr/share/mod_chat"),
              pathlib.Path("/usr/local/share/mod_chat"), ETC / "chat.htpasswd",
              ETC / "chat-admin.secret", ETC / "conf-available" / "chat-auth.conf"):
        assert not p.exists(), f"{p} exists: not a fresh machine"
    assert not system_apache_running(), "the system's apache2 is running"
    before = snapshot()
    yield
    # a2enmod/a2dismod keep their state in directories they create as
    # needed; the ones they created, now empty, go
    for d in sorted(pathlib.Path("/var/lib/apache2").glob("*/*"), reverse=True):
        if str(d) not in before and d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    after = snapshot()
    diff = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not diff, "the system was not left as found: " + ", ".join(diff[:40])


class SystemApache:
    """/usr/sbin/apache2 on /etc/apache2 (mods, confs and sites enabled
    there), listening on a free loopback port; its pid, lock and logs in a
    temporary directory."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="chat-system-apache-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        for d in ("run", "lock", "log", "sites"):
            (self.dir / d).mkdir()
        for site in (ETC / "sites-enabled").glob("*.conf"):
            (self.dir / "sites" / site.name).write_text(
                re.sub(r":80>", f":{self.port}>", site.read_text()))
        text = (ETC / "apache2.conf").read_text()
        assert "\nInclude ports.conf" in text and "IncludeOptional sites-enabled/*.conf" in text
        text = text.replace("\nInclude ports.conf", f"\nListen 127.0.0.1:{self.port}")
        text = text.replace("IncludeOptional sites-enabled/*.conf",
                            f"IncludeOptional {self.dir}/sites/*.conf")
        self.conf = self.dir / "apache2.conf"
        self.conf.write_text(f'ServerRoot "{ETC}"\nServerName localhost\n' + text)
        self.env = dict(os.environ, APACHE_RUN_USER="www-data", APACHE_RUN_GROUP="www-data",
                        APACHE_PID_FILE=str(self.dir / "run" / "apache2.pid"),
                        APACHE_RUN_DIR=str(self.dir / "run"), APACHE_LOCK_DIR=str(self.dir / "lock"),
                        APACHE_LOG_DIR=str(self.dir / "log"))
        self.pidfile = self.dir / "run" / "apache2.pid"

    def start(self):
        run(APACHE, "-f", str(self.conf), "-k", "start", env=self.env)
        wait_for(lambda: port_open(self.port) and self.pidfile.exists(), 15, "apache2 to listen")
        return self

    def stop(self):
        if self.pidfile.exists():
            subprocess.run([APACHE, "-f", str(self.conf), "-k", "stop"], env=self.env,
                           capture_output=True)
            wait_for(lambda: not self.pidfile.exists(), 30, "apache2 to stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        return (self.dir / "log" / "error.log").read_text(errors="replace")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"


def readme_recipe(name):
    text = (ROOT / "README.md").read_text()
    start = text.index(f"<!-- recipe: {name} ")
    return text[start:text.index("<!-- /recipe -->", start)].split("```apache\n", 1)[1].split("```")[0]


def sysadmin_setup(redis):
    """What the README tells the sysadmin: a2enmod chat, htpasswd, the
    Basic-auth snippet, the admin secret and Redis in chat.conf."""
    run("a2enmod", "-q", "chat")
    assert (ETC / "mods-enabled" / "chat.load").is_symlink()
    assert (ETC / "mods-enabled" / "chat_admin.load").is_symlink(), "a2enmod chat: chat_admin too"
    pw = ETC / "chat.htpasswd"
    run("htpasswd", "-c", "-b", "-B", str(pw), "alice", "alice-pw")
    run("htpasswd", "-b", "-B", str(pw), "bob", "bob-pw")
    shutil.chown(pw, "root", "www-data")
    pw.chmod(0o640)
    (ETC / "conf-available" / "chat-auth.conf").write_text(readme_recipe("basic-auth"))
    run("a2enconf", "-q", "chat-auth")
    secret = ETC / "chat-admin.secret"
    secret.write_text(SECRET + "\n")
    shutil.chown(secret, "root", "www-data")
    secret.chmod(0o640)
    conf = ETC / "mods-available" / "chat.conf"
    text = conf.read_text()
    assert "    #ChatAdminSecretFile /etc/apache2/chat-admin.secret" in text
    text = text.replace("    #ChatAdminSecretFile", "    ChatAdminSecretFile")
    text = text.replace("ChatRedis 127.0.0.1:6379", f"ChatRedis 127.0.0.1:{redis.port}\n"
                        f"    ChatRedisAuth {redis.acl_user} {redis.acl_pass}")
    conf.write_text(text)


def sysadmin_undo():
    for f in (ETC / "conf-enabled" / "chat-auth.conf",):
        if f.is_symlink():
            run("a2disconf", "-q", "-p", "chat-auth")
    for f in ("chat-auth.conf",):
        (ETC / "conf-available" / f).unlink(missing_ok=True)
    (ETC / "chat.htpasswd").unlink(missing_ok=True)
    (ETC / "chat-admin.secret").unlink(missing_ok=True)
    # the recipe's a2enconf/a2disconf leave state in /var/lib/apache2
    for d in pathlib.Path("/var/lib/apache2/conf").glob("*/chat-auth"):
        d.unlink()


def chat_works(redis, prefix):
    h = SystemApache().start()
    try:
        log = h.log()
        for name in ("ChatAdminSecret", "ChatIdentity", "ChatClientDir", "ChatRedis"):
            assert name not in log, log
        # Debian's default site still answers as before
        assert requests.get(h.url("/"), timeout=10).status_code == 200
        assert requests.get(h.url("/chat/lobby"), timeout=10).status_code == 401
        for u in ("alice", "bob"):
            r = requests.post(h.url("/chat-admin/api/rooms/lobby/members"), json={"username": u},
                              headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)
            assert r.status_code in (200, 201), r.text
        r = subprocess.run(["node", str(ROOT / "tests" / "browser" / "system_install.mjs"),
                            str(h.port), "lobby", SECRET, str(ARTIFACTS), prefix],
                           capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stdout + r.stderr + h.log()
    finally:
        h.stop()


@pytest.fixture
def redis():
    r = RedisServer().start()
    yield r
    r.cleanup()


def test_debian_package_on_the_system_apache(pristine, redis):
    dist = pathlib.Path(tempfile.mkdtemp(prefix="chat-deb-"))
    installed = False
    try:
        run("bash", str(ROOT / "scripts" / "build-deb.sh"), str(dist))
        deb = next(dist.glob("libapache2-mod-chat_*_*.deb"))
        run("dpkg", "-i", str(deb))
        installed = True
        # installing enabled nothing
        assert not (ETC / "mods-enabled" / "chat.load").exists()
        assert not (ETC / "mods-enabled" / "chat_admin.load").exists()
        assert (pathlib.Path("/usr/share/mod_chat/client/index.html")).is_file()
        sysadmin_setup(redis)
        chat_works(redis, "deb")
    finally:
        sysadmin_undo()
        if installed:
            run("dpkg", "--purge", "libapache2-mod-chat")
        shutil.rmtree(dist, ignore_errors=True)


def test_make_install_on_the_system_apache(pristine, redis):
    prefix = run("make", "-s", "--no-print-directory", "-C", str(BUILD), "print-prefix").strip()
    datadir = pathlib.Path(run("make", "-s", "--no-print-directory", "-C", str(BUILD),
                               "print-pkgdatadir").strip())
    created = [p for p in (datadir, datadir.parent) if not p.exists()]
    try:
        run("make", "-C", str(BUILD), "install")
        assert (datadir / "client" / "index.html").is_file(), prefix
        sysadmin_setup(redis)
        chat_works(redis, "make-install")
    finally:
        sysadmin_undo()
        for m in ("chat", "chat_admin"):
            if (ETC / "mods-enabled" / f"{m}.load").exists():
                run("a2dismod", "-q", "-p", "-f", m)
        # a2dismod -p leaves no state behind only for what it disabled
        for d in pathlib.Path("/var/lib/apache2/module").glob("*/chat*"):
            d.unlink()
        run("make", "-C", str(BUILD), "uninstall")
        for p in created:  # make uninstall leaves the directories it made
            shutil.rmtree(p, ignore_errors=True)
