"""Debian's haproxy running the shipped conf/haproxy.cfg, for
tests/test_tls_proxy.py and bench/proxy_capacity.py: only the listening
address, the certificate and the backend addresses are replaced."""
import pathlib
import shutil
import subprocess

from harness import ROOT, STOCK_MODULES, free_port, port_open, tls_cert, wait_for

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# conf/haproxy.cfg asks for maxconn 50000 (about 100,000 descriptors); this
# machine's hard limit may be lower, and haproxy refuses to start below what
# its maxconn needs: -n lowers it on the command line, the file stays as shipped
HAPROXY_MAXCONN = 4000


def shipped(name, subs):
    """conf/NAME with each (old, new) replaced; each old must occur once."""
    text = (ROOT / "conf" / name).read_text()
    for old, new in subs:
        assert text.count(old) == 1, f"conf/{name} no longer holds {old!r} once"
        text = text.replace(old, new)
    return text


def httpd_snippet(log_path, proxy="127.0.0.1"):
    """httpd's side, conf/chat-proxy.conf, for a proxy at proxy, logging to log_path."""
    return f"LoadModule remoteip_module {STOCK_MODULES}/mod_remoteip.so\n" + shipped(
        "chat-proxy.conf", [
            ("RemoteIPInternalProxy 10.0.0.5", f"RemoteIPInternalProxy {proxy}"),
            ("ChatTrustedProxy 10.0.0.5", f"ChatTrustedProxy {proxy}"),
            ("${APACHE_LOG_DIR}/access.log", str(log_path)),
        ])


class Haproxy:
    def __init__(self, backend_port, workdir, maxconn=HAPROXY_MAXCONN, name="haproxy"):
        self.dir = pathlib.Path(workdir)
        self.port = free_port()
        self.maxconn = maxconn
        cert, key = tls_cert()
        pem = self.dir / f"{name}.pem"
        pem.write_text(cert.read_text() + key.read_text())
        self.cfg = self.dir / f"{name}.cfg"
        self.cfg.write_text(shipped("haproxy.cfg", [
            ("bind :443 ssl crt /etc/haproxy/certs/chat.example.com.pem",
             f"bind 127.0.0.1:{self.port} ssl crt {pem}"),
            ("server httpd1 10.0.0.11:80", f"server httpd1 127.0.0.1:{backend_port}"),
            ("server httpd2 10.0.0.12:80", f"server httpd2 127.0.0.1:{backend_port}"),
        ]))
        self.log = self.dir / f"{name}.out"
        self.proc = None

    def start(self):
        check = subprocess.run([HAPROXY, "-c", "-n", str(self.maxconn), "-f", str(self.cfg)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.proc = subprocess.Popen(
            [HAPROXY, "-db", "-n", str(self.maxconn), "-f", str(self.cfg)],
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or port_open(self.port), 10,
                 "haproxy to listen")
        assert self.proc.poll() is None, self.log.read_text()
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
