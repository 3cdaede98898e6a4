"""Real servers for the tests: a private redis-server and an httpd loading the
built modules, each in a fresh root on free loopback ports.

Modelled on the idea of mod_h2's pyhttpd: every test module gets its own
server root and config; the MPM comes from CHAT_MPM (event by default,
prefork for the second pass of the suite); CHAT_VALGRIND=1 runs httpd -X
under valgrind's memcheck.
"""
import os
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("CHAT_BUILD_DIR", str(ROOT)))
STOCK_MODULES = "/usr/lib/apache2/modules"
APACHE = "/usr/sbin/apache2"
MPM = os.environ.get("CHAT_MPM", "event")
VALGRIND = os.environ.get("CHAT_VALGRIND") == "1"
# valgrind's exit status when it found an error or a definite leak
VALGRIND_ERROR_EXIT = 97
ADMIN_SECRET = "test-admin-secret-0123456789"
TOKEN_SECRET = "test-token-secret-0123456789"

# Debian's stock MPM settings (mods-available/mpm_*.conf).
MPM_CONF = {
    "event": """StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0""",
    "worker": """StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadLimit 64
ThreadsPerChild 25
MaxRequestWorkers 150
MaxConnectionsPerChild 0""",
    "prefork": """StartServers 5
MinSpareServers 5
MaxSpareServers 10
MaxRequestWorkers 150
MaxConnectionsPerChild 0""",
}


_issued_ports = set()


def free_port():
    """A loopback port nobody listens on now and that this run never handed out
    before: the kernel may give the same ephemeral port to two binds in a row
    (seen as httpd's "Cannot define multiple Listeners on the same IP:port"
    when its plain and TLS ports came out equal)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _issued_ports:
            _issued_ports.add(port)
            return port


def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll predicate until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def process_tree(pid):
    """pid and its direct children (an httpd parent and its worker processes)."""
    out = [pid]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


_CERT_DIR = None


def tls_cert():
    """A self-signed certificate for 127.0.0.1/localhost, made once per run."""
    global _CERT_DIR
    if _CERT_DIR is None:
        _CERT_DIR = pathlib.Path(tempfile.mkdtemp(prefix="chat-cert-"))
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(_CERT_DIR / "key.pem"), "-out", str(_CERT_DIR / "cert.pem"),
             "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-addext", "basicConstraints=critical,CA:FALSE"],
            check=True, capture_output=True)
        os.chmod(_CERT_DIR, 0o755)
        for f in _CERT_DIR.iterdir():
            os.chmod(f, 0o644)
    return _CERT_DIR / "cert.pem", _CERT_DIR / "key.pem"


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# The Redis user httpd logs in as: everything but the dangerous commands
# (KEYS, FLUSHALL, CONFIG, ...), so the suite proves mod_chat needs none of
# them. Tests that use RedisServer.client() keep the default user.
REDIS_ACL_USER = "chat"
REDIS_ACL_PASS = "chat-acl-pass-0123456789"
REDIS_ACL_RULES = ["on", f">{REDIS_ACL_PASS}", "~*", "&*", "+@all", "-@dangerous", "-keys"]


class RedisServer:
    def __init__(self, appendonly=False, extra_args=()):
        self.extra_args = list(extra_args)
        self.acl_user, self.acl_pass = REDIS_ACL_USER, REDIS_ACL_PASS
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="chat-redis-"))
        self.port = free_port()
        self.appendonly = appendonly
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes" if self.appendonly else "no",
             "--appendfsync", "always", "--dir", str(self.dir),
             "--user", self.acl_user] + REDIS_ACL_RULES + self.extra_args,
            stdout=open(self.dir / "redis.log", "ab"), stderr=subprocess.STDOUT)
        wait_for(self.ping, 10, "redis-server to answer PING")
        return self

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                # a password-protected server answers NOAUTH: it is up
                return s.recv(64)[:1] in (b"+", b"-")
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def client(self):
        import redis
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Httpd:
    """One httpd with its own root. extra_conf goes at server level."""

    def __init__(self, redis, extra_conf="", mpm=None, name="chat", proxy_to=None, admin=True):
        self.redis = redis
        self.admin = admin  # False: load mod_chat alone, without mod_chat_admin
        self.proxy_to = proxy_to  # backend ports: a front balancing /chat/ over them
        self.mpm = mpm or MPM
        self.extra_conf = extra_conf
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix=f"chat-httpd-{name}-"))
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.tls_port = free_port()
        self.conf = self.dir / "conf" / "httpd.conf"
        self.error_log = self.dir / "logs" / "error.log"
        self.valgrind_log = self.dir / "logs" / "valgrind.log"
        self.proc = None
        self.pid = None
        self.exit_status = None  # httpd -X's (valgrind's) exit status after stop()
        self._write()

    def close(self):
        """Stop, assert valgrind found nothing (when it ran), remove the root."""
        self.stop()
        if VALGRIND:
            # memcheck over everything this server did: no error, no definite leak
            errors = self.valgrind_errors()
            assert not errors, errors
        self.cleanup()

    def reconfigure(self, extra_conf):
        """New server-level lines (e.g. ones naming this server's port); before start()."""
        self.extra_conf = extra_conf
        self._write()

    @property
    def pidfile(self):
        return self.dir / "run" / "httpd.pid"

    def module_path(self, name):
        return BUILD / "modules" / name / ".libs" / f"{name}.so"

    def _write(self):
        for d in ("conf", "logs", "run", "htdocs", "uploads"):
            (self.dir / d).mkdir(exist_ok=True)
        shutil.chown(self.dir / "uploads", "www-data", "www-data")
        (self.dir / "htdocs" / "static.txt").write_text("static file\n")
        for f in (ROOT / "htdocs").iterdir():  # the real client page
            if f.is_file():
                shutil.copy(f, self.dir / "htdocs" / f.name)
        # the page's vendored Markdown libraries (htdocs/vendor/README.md)
        shutil.copytree(ROOT / "htdocs" / "vendor", self.dir / "htdocs" / "vendor", dirs_exist_ok=True)
        cert, key = tls_cert()
        mods = ["authz_core", "authz_host", "authn_core", "authn_file", "authz_user",
                "auth_basic", "mime", "dir", "alias", "status",
                "reqtimeout", "ssl", "socache_shmcb", "headers", "setenvif"]
        loads = "\n".join(f"LoadModule {m}_module {STOCK_MODULES}/mod_{m}.so" for m in mods)
        locations = """
<Location /chat-echo>
    SetHandler chat-echo
</Location>
<Location /chat-echo-small>
    SetHandler chat-echo
    ChatMaxFrameSize 1024
    ChatMaxMessageSize 4096
</Location>
<Location /chat-echo-idle>
    SetHandler chat-echo
    ChatPingInterval 1
    ChatIdleTimeout 3
</Location>
<Location /chat-echo-abuse>
    SetHandler chat-echo
    ChatControlFrameRate 0
    ChatSendQueueLimit 64K
    ChatCloseTimeout 2
</Location>
<Location /chat-echo-origin>
    SetHandler chat-echo
    ChatAllowedOrigins https://allowed.example http://also.example:8080
</Location>
<LocationMatch "^/chat/[^/]+$">
    SetHandler chat
    ChatIdentity query
    # bulk-posting tests; the limits have their own locations (/lchat, /dchat)
    ChatRateLimit 0
    ChatMessageBudget 0
</LocationMatch>
<LocationMatch "^/dchat/[^/]+$">
    # the default budgets, and a media allow-list
    SetHandler chat
    ChatIdentity query
    ChatMediaAllow https://charts.example/img/
</LocationMatch>
<LocationMatch "^/lchat/[^/]+$">
    SetHandler chat
    ChatIdentity query
    ChatRateLimit 2 3
    ChatMaxConnectionsPerUser 3
    ChatMaxTextLength 10
    ChatHistorySize 30
</LocationMatch>
<LocationMatch "^/bchat/[^/]+$">
    SetHandler chat
    ChatIdentity query
    ChatRateLimit 0
    ChatMaxFrameSize 2M
    ChatMaxMessageSize 2M
</LocationMatch>
<LocationMatch "^/tchat/[^/]+$">
    SetHandler chat
    ChatIdentity token
</LocationMatch>
<Location /chat-admin/api>
    SetHandler chat-admin
</Location>
<Location /chat/files>
    SetHandler chat-files
</Location>
<Location /chat/ai>
    SetHandler chat-ai
    ChatIdentity query
</Location>
"""
        if self.proxy_to:
            for m in ("proxy", "proxy_http", "proxy_wstunnel", "proxy_balancer",
                      "lbmethod_byrequests", "slotmem_shm"):
                loads += f"\nLoadModule {m}_module {STOCK_MODULES}/mod_{m}.so"
            members = "\n".join(f"    BalancerMember ws://127.0.0.1:{p} retry=1"
                                 for p in self.proxy_to)
            locations = f"""
<Proxy balancer://chat>
{members}
    ProxySet lbmethod=byrequests
</Proxy>
ProxyPass /chat/ balancer://chat/chat/
"""
        (self.dir / "conf" / "locations.conf").write_text(locations)
        admin_load = (f'LoadModule chat_admin_module {self.module_path("mod_chat_admin")}'
                      if self.admin else "")
        admin_secret = f"ChatAdminSecret {ADMIN_SECRET}" if self.admin else ""
        text = f"""# written by tests/harness.py
ServerRoot {self.dir}
PidFile {self.pidfile}
Listen 127.0.0.1:{self.port}
Listen 127.0.0.1:{self.tls_port}
ServerName localhost
User www-data
Group www-data
LoadModule mpm_{self.mpm}_module {STOCK_MODULES}/mod_mpm_{self.mpm}.so
{loads}
LoadModule chat_module {self.module_path("mod_chat")}
{admin_load}
{MPM_CONF[self.mpm]}
TypesConfig /etc/mime.types
ErrorLog {self.error_log}
LogLevel info chat:debug{" chat_admin:debug" if self.admin else ""}
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog {self.dir}/logs/access.log common
RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500
DocumentRoot {self.dir}/htdocs
# as Debian's apache2.conf: no .htaccess lookups up the path on every request
<Directory />
    AllowOverride None
</Directory>
<Directory {self.dir}/htdocs>
    Require all granted
</Directory>
Alias /chat-admin/ {ROOT}/htdocs/admin/
# the page's relative asset URLs (client/chat.js) under every chat location
ChatClientDir {self.dir}/htdocs
AliasMatch "^/[^/]+/client/(.*)$" "{self.dir}/htdocs/$1"
<Directory {ROOT}/htdocs/admin>
    Require all granted
</Directory>
<Location /server-status>
    SetHandler server-status
</Location>
ExtendedStatus On
ChatRedis 127.0.0.1:{self.redis.port if self.redis else 6379}
{f"ChatRedisAuth {self.redis.acl_user} {self.redis.acl_pass}" if self.redis else ""}
ChatTokenSecret {TOKEN_SECRET}
ChatUploadDir {self.dir}/uploads
ChatUploadMaxSize 256K
ChatAIProducts {ROOT}/data/products.tsv
{admin_secret}
SSLSessionCache shmcb:{self.dir}/run/ssl_scache(512000)
Include {self.dir}/conf/locations.conf
<VirtualHost 127.0.0.1:{self.tls_port}>
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
    Include {self.dir}/conf/locations.conf
</VirtualHost>
{self.extra_conf}
"""
        self.conf.write_text(text)

    def assert_configtest_refuses(self, line, name):
        """apache2 -t fails on line and its message names the directive."""
        rc, out = self.configtest(line)
        assert rc != 0, f"configtest accepted {line!r}"
        assert name in out, out

    def configtest(self, extra):
        """apache2 -t on this config plus extra lines: (returncode, output)."""
        conf = self.dir / "conf" / "configtest.conf"
        conf.write_text(self.conf.read_text() + "\n" + extra + "\n")
        r = subprocess.run([APACHE, "-t", "-f", str(conf)], capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def start(self):
        if VALGRIND:
            self.proc = subprocess.Popen(
                ["valgrind", "--tool=memcheck", "--leak-check=full",
                 "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite",
                 "--trace-children=no", "--keep-debuginfo=yes",
                 f"--error-exitcode={VALGRIND_ERROR_EXIT}",
                 f"--log-file={self.valgrind_log}",
                 "--suppressions=" + str(ROOT / "tests" / "valgrind.supp"),
                 APACHE, "-X", "-f", str(self.conf)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: port_open(self.port), 60, "httpd under valgrind to listen")
            self.pid = self.proc.pid
            return self
        r = subprocess.run([APACHE, "-f", str(self.conf), "-k", "start"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"httpd failed to start: {r.stdout}{r.stderr}\n{self.log()}")
        wait_for(lambda: self.pidfile.exists() and self.pidfile.read_text().strip(), 10,
                 "httpd pid file")
        self.pid = int(self.pidfile.read_text())
        wait_for(lambda: port_open(self.port) and port_open(self.tls_port), 10,
                 "httpd to listen")
        return self

    def graceful(self):
        """Graceful restart; returns once the new generation answers."""
        before = self.log().count("resuming normal operations")
        os.kill(self.pid, signal.SIGUSR1)
        wait_for(lambda: self.log().count("resuming normal operations") > before, 20,
                 "the graceful restart")
        wait_for(lambda: port_open(self.port), 10, "httpd to listen again")

    def stop(self):
        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGTERM)
        if self.proc is not None:
            self.exit_status = self.proc.wait(60)
            self.proc = None
        else:
            wait_for(lambda: not pid_alive(self.pid), 30, "httpd to exit")
        self.pid = None

    def log(self):
        try:
            return self.error_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10, count=1):
        """Wait until the error log holds text at least count times."""
        wait_for(lambda: self.log().count(text) >= count, timeout, f"{text!r} in the error log")

    def valgrind_errors(self):
        """'' when valgrind found nothing, else the start of its report."""
        report = self.valgrind_report()
        if "ERROR SUMMARY: 0 errors" in report and self.exit_status != VALGRIND_ERROR_EXIT:
            return ""
        first = report.find("\n==", report.find("Parent PID"))
        return f"valgrind exit status {self.exit_status}\n" + report[first:first + 6000]

    def valgrind_report(self):
        return self.valgrind_log.read_text(errors="replace") if self.valgrind_log.exists() else ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def upload_dir(self):
        return self.dir / "uploads"

    def url(self, path, tls=False):
        return f"{'https' if tls else 'http'}://127.0.0.1:{self.tls_port if tls else self.port}{path}"


# the name the test brief uses
HttpdServer = Httpd
