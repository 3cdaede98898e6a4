"""Installing like a Debian Apache module (issue 18): `make install` puts the
browser client where the shipped conf/chat.conf serves it from, GET
/chat/{room} serves that page whatever the site's DocumentRoot holds, and
startup says, once and naming the directive, what cannot work yet.

The install is staged (make install DESTDIR=...), so the modules, chat.load,
chat.conf and the client land under a private root; the config then includes
the installed chat.load/chat.conf with their absolute paths moved under that
root, as a sysadmin's `a2enmod chat` would include them."""
import base64
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest
import requests

from chatclient import Chat
from harness import (APACHE, BUILD, ROOT, STOCK_MODULES, free_port, port_open, wait_for)
from wsclient import WS, HandshakeRefused

STOCK = ["mpm_event", "authz_core", "authz_host", "authn_core", "authn_file", "authz_user",
         "auth_basic", "mime", "dir", "alias"]


def make_var(name):
    """A variable of the configured Makefile (what make install used)."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(BUILD), f"print-{name}"],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


@pytest.fixture(scope="module")
def stage():
    root = pathlib.Path(tempfile.mkdtemp(prefix="chat-install-"))
    r = subprocess.run(["make", "-C", str(BUILD), "install", f"DESTDIR={root}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def client_dir(stage):
    """Where the staged install put the browser client."""
    return stage / make_var("pkgdatadir").lstrip("/") / "client"


class Installed:
    """An httpd whose config is a stock site (DocumentRoot with Debian's own
    index.html stand-in) plus the installed chat.load and chat.conf."""

    def __init__(self, stage, extra="", redis_port=None, move_client=True):
        self.stage = stage
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="chat-installed-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.error_log = self.dir / "error.log"
        moddir, confdir = make_var("moduledir"), make_var("confdir")
        datadir = make_var("pkgdatadir")
        self.client = client_dir(stage)
        # a2enmod chat enables chat_admin too (chat.load's "# Depends:")
        deps = (stage / confdir.lstrip("/") / "chat.load").read_text()
        assert "# Depends: chat_admin" in deps
        load = deps + (stage / confdir.lstrip("/") / "chat_admin.load").read_text()
        conf = (stage / confdir.lstrip("/") / "chat.conf").read_text()
        load = load.replace(moddir, str(stage / moddir.lstrip("/")))
        if move_client:
            conf = conf.replace(datadir, str(stage / datadir.lstrip("/")))
        (self.dir / "chat.load").write_text(load)
        (self.dir / "chat.conf").write_text(conf)
        (self.dir / "www").mkdir()
        (self.dir / "www" / "index.html").write_text("Apache2 Debian Default Page\n")
        loads = "\n".join(f"LoadModule {m}_module {STOCK_MODULES}/mod_{m}.so" for m in STOCK)
        self.conf = self.dir / "httpd.conf"
        self.conf.write_text(f"""ServerRoot {self.dir}
PidFile {self.dir}/httpd.pid
Listen 127.0.0.1:{self.port}
ServerName localhost
User www-data
Group www-data
{loads}
TypesConfig /etc/mime.types
DirectoryIndex index.html
ErrorLog {self.error_log}
LogLevel warn
DocumentRoot {self.dir}/www
<Directory {self.dir}/www>
    Require all granted
</Directory>
Include {self.dir}/chat.load
Include {self.dir}/chat.conf
{f"ChatRedis 127.0.0.1:{redis_port}" if redis_port else ""}
{extra}
""")

    def start(self):
        r = subprocess.run([APACHE, "-f", str(self.conf), "-k", "start"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        wait_for(lambda: port_open(self.port), 10, "httpd to listen")
        wait_for(lambda: (self.dir / "httpd.pid").exists(), 10, "pid file")
        return self

    def stop(self):
        subprocess.run([APACHE, "-f", str(self.conf), "-k", "stop"], capture_output=True)
        wait_for(lambda: not (self.dir / "httpd.pid").exists(), 10, "httpd to stop")
        shutil.rmtree(self.dir, ignore_errors=True)

    def log(self):
        return self.error_log.read_text(errors="replace")

    def get(self, path, **kw):
        return requests.get(f"http://127.0.0.1:{self.port}{path}", timeout=10, **kw)


def test_make_install_puts_the_client_where_chat_conf_serves_it(stage, redis_server):
    h = Installed(stage, extra=f"ChatClientDir {client_dir(stage)}",
                  redis_port=redis_server.port).start()
    try:
        page = h.get("/chat/lobby")
        assert page.status_code == 200, page.text
        assert "Debian Default Page" not in page.text and "client/chat.js" in page.text
        assert page.headers["Content-Type"].startswith("text/html")
        # every script and stylesheet of the page, as the browser resolves it
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(assets) >= 10, assets
        for a in assets:
            assert not a.startswith("/"), f"{a}: absolute URLs break under another prefix"
            r = h.get(f"/chat/{a}")
            assert r.status_code == 200, (a, r.status_code)
        # the vendored libraries keep their licences next to them
        assert (h.client / "vendor" / "marked" / "LICENSE").is_file()
        admin = h.get("/chat-admin/")
        assert admin.status_code == 200 and "mod_chat admin" in admin.text
        assert h.get("/chat-admin/admin.js").status_code == 200
        # the site's own page is untouched
        assert "Debian Default Page" in h.get("/").text
        # revalidation: a conditional GET of the page is answered 304
        etag = page.headers["ETag"]
        assert h.get("/chat/lobby", headers={"If-None-Match": etag}).status_code == 304
    finally:
        h.stop()


# the directives the startup warnings name
WARNED = ("ChatAdminSecret", "ChatIdentity", "ChatClientDir", "ChatRedis")


def test_startup_warns_once_naming_each_directive(stage):
    """The installed conf as shipped (no admin secret, remote-user identity
    and no auth, the client at the compiled-in default, which this staged
    install did not fill) and Redis on a closed port: httpd starts and says
    each of the four things once."""
    closed = free_port()
    h = Installed(stage, redis_port=closed, move_client=False).start()
    try:
        h.get("/")  # the server is up: both config passes are done
        log = h.log()
        default_dir = make_var("pkgdatadir") + "/client"
        expected = {
            "ChatAdminSecret": "admin API answers 503",
            "ChatIdentity remote-user (the default) at <LocationMatch ^/chat/[^/]+$>":
                "every join will be refused",
            f"ChatClientDir {default_dir} has no index.html": "answers 404",
            f"ChatRedis 127.0.0.1:{closed}": "`unavailable` until Redis is ready",
        }
        for name, effect in expected.items():
            lines = [l for l in log.splitlines() if name in l]
            assert len(lines) == 1, (name, log)
            assert effect in lines[0] and ("[chat:warn]" in lines[0] or
                                           "[chat_admin:warn]" in lines[0]), lines[0]
        assert h.get("/chat/lobby").status_code == 404
    finally:
        h.stop()


def htpasswd_file(*users):
    """A real htpasswd file (bcrypt), readable by httpd's children."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="chat-htpasswd-"))
    d.chmod(0o755)
    path = d / "htpasswd"
    for i, (user, password) in enumerate(users):
        subprocess.run(["htpasswd", "-bB"] + (["-c"] if i == 0 else []) +
                       [str(path), user, password], check=True, capture_output=True)
    path.chmod(0o644)
    return path


def test_no_warning_when_all_is_configured(stage, redis_server):
    """A secret, Basic auth around the chat, the client installed and Redis
    up: none of the warnings."""
    htpasswd = htpasswd_file(("alice", "alice-pw"))
    extra = f"""ChatClientDir {client_dir(stage)}
ChatAdminSecret a-long-enough-admin-secret
<LocationMatch "^/chat/">
    AuthType Basic
    AuthName "Chat"
    AuthUserFile {htpasswd}
    Require valid-user
</LocationMatch>
"""
    h = Installed(stage, extra=extra, redis_port=redis_server.port).start()
    try:
        assert h.get("/chat/lobby").status_code == 401
        assert h.get("/chat/lobby", auth=("alice", "alice-pw")).status_code == 200
        for name in WARNED:
            assert name not in h.log(), h.log()
    finally:
        h.stop()
        shutil.rmtree(htpasswd.parent)


def readme_recipe(name):
    """The ```apache block the README marks as recipe NAME, as written."""
    text = (ROOT / "README.md").read_text()
    start = text.index(f"<!-- recipe: {name} ")
    block = text[start:text.index("<!-- /recipe -->", start)]
    return block.split("```apache\n", 1)[1].split("```", 1)[0]


def basic_chat(port, user, password):
    """A chat client whose WebSocket carries Basic credentials, as a browser
    sends them after the page asked."""
    c = Chat.__new__(Chat)
    c.user, c.partials = user, []
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    c.ws = WS.connect(port, path="/chat/lobby", headers={"Authorization": f"Basic {auth}"})
    c.welcome = c.expect("welcome")
    return c


def test_readme_basic_auth_recipe_as_written(stage, redis_server):
    """The README's Basic-auth block, only its AuthUserFile path moved to a
    real htpasswd file made by htpasswd: the page and the socket ask for
    the password, the user is who logged in, two users chat."""
    htpasswd = htpasswd_file(("alice", "alice-pw"), ("bob", "bob-pw"))
    recipe = readme_recipe("basic-auth")
    assert "AuthType Basic" in recipe and "/etc/apache2/chat.htpasswd" in recipe
    recipe = recipe.replace("/etc/apache2/chat.htpasswd", str(htpasswd))
    secret = "recipe-admin-secret-0123456789"
    h = Installed(stage, redis_port=redis_server.port,
                  extra=f"ChatClientDir {client_dir(stage)}\nChatAdminSecret {secret}\n"
                        + recipe).start()
    try:
        for u in ("alice", "bob"):
            r = requests.post(f"http://127.0.0.1:{h.port}/chat-admin/api/rooms/lobby/members",
                              json={"username": u}, timeout=10,
                              headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code in (200, 201), r.text
        assert h.get("/chat/lobby").status_code == 401
        assert h.get("/chat/lobby", auth=("alice", "wrong")).status_code == 401
        assert h.get("/chat/client/chat.js").status_code == 401
        page = h.get("/chat/lobby", auth=("alice", "alice-pw"))
        assert page.status_code == 200 and "client/chat.js" in page.text
        assert h.get("/chat/client/chat.js", auth=("alice", "alice-pw")).status_code == 200
        info = h.get("/chat/lobby?info", auth=("bob", "bob-pw")).json()
        assert info["identity"] == "remote-user" and info["username"] == "bob"
        with pytest.raises(HandshakeRefused) as refused:
            WS.connect(h.port, path="/chat/lobby")
        assert refused.value.status == 401
        alice = basic_chat(h.port, "alice", "alice-pw")
        bob = basic_chat(h.port, "bob", "bob-pw")
        alice.say("hello bob")
        got = bob.expect("chat")
        assert got["text"] == "hello bob" and got["username"] == "alice", got
        assert alice.expect("chat")["text"] == "hello bob"  # her own, stored
        bob.say("hi alice")
        got = alice.expect("chat")
        assert got["text"] == "hi alice" and got["username"] == "bob", got
        alice.ws.close()
        bob.ws.close()
        # the recipe leaves nothing to warn about
        assert "ChatIdentity" not in h.log() and "ChatAdminSecret" not in h.log(), h.log()
    finally:
        h.stop()
        shutil.rmtree(htpasswd.parent)
