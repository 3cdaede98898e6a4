#!/bin/bash
# The README's first command: builds mod_chat and runs a demo chat server on
# http://127.0.0.1:${CHAT_PORT:-8080}/ with a private redis-server (AOF on),
# the event MPM, both modules and htdocs/. Room "lobby" is active with
# members alice and bob. Stays in the foreground until Ctrl-C or SIGTERM,
# then stops httpd and redis and leaves nothing running.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PORT=${CHAT_PORT:-8080}
REDIS_PORT=${CHAT_REDIS_PORT:-6390}
RUN="$REPO/run/demo"
SECRET=${CHAT_ADMIN_SECRET:-$(openssl rand -hex 16 2>/dev/null || head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')}

bash scripts/install-deps.sh
bash scripts/build.sh

mkdir -p "$RUN/logs" "$RUN/redis" "$RUN/conf"
chmod 755 "$REPO/run" "$RUN" "$RUN/logs"
rm -f "$RUN/httpd.pid"

cat > "$RUN/conf/redis.conf" <<CONF
bind 127.0.0.1
port $REDIS_PORT
dir $RUN/redis
appendonly yes
appendfsync everysec
save ""
logfile $RUN/logs/redis.log
CONF

M=/usr/lib/apache2/modules
cat > "$RUN/conf/httpd.conf" <<CONF
# Demo configuration written by scripts/demo.sh (see conf/chat.conf for the
# drop-in version a sysadmin uses).
ServerRoot $RUN
PidFile $RUN/httpd.pid
Listen 127.0.0.1:$PORT
ServerName 127.0.0.1
User www-data
Group www-data
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule mime_module $M/mod_mime.so
LoadModule dir_module $M/mod_dir.so
LoadModule alias_module $M/mod_alias.so
LoadModule reqtimeout_module $M/mod_reqtimeout.so
LoadModule status_module $M/mod_status.so
LoadModule chat_module $REPO/modules/mod_chat/.libs/mod_chat.so
LoadModule chat_admin_module $REPO/modules/mod_chat_admin/.libs/mod_chat_admin.so
TypesConfig /etc/mime.types
ErrorLog $RUN/logs/error.log
LogLevel info
CustomLog $RUN/logs/access.log "%h %u %t \"%r\" %>s %b"
DocumentRoot $REPO/htdocs
DirectoryIndex index.html
<Directory $REPO/htdocs>
    Require all granted
</Directory>

ChatRedis 127.0.0.1:$REDIS_PORT
ChatAdminSecret $SECRET

# Demo only: ?username= is trusted as is. Real servers use an Apache auth
# module (ChatIdentity remote-user, the default) or signed tokens.
<LocationMatch "^/chat/[^/]+$">
    SetHandler chat
    ChatIdentity query
</LocationMatch>
<Location /chat-admin/api>
    SetHandler chat-admin
</Location>
<Location /chat-echo>
    SetHandler chat-echo
</Location>
CONF

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  if [ -f "$RUN/httpd.pid" ]; then
    /usr/sbin/apache2 -f "$RUN/conf/httpd.conf" -k stop 2>/dev/null || true
  fi
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  echo "stopped: nothing left running"
}
trap cleanup INT TERM EXIT

redis-server "$RUN/conf/redis.conf" &
pids+=($!)
for _ in $(seq 100); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" SADD chat:room:lobby:members alice bob >/dev/null
redis-cli -p "$REDIS_PORT" SADD chat:rooms lobby >/dev/null

ulimit -n 65536 2>/dev/null || true
/usr/sbin/apache2 -f "$RUN/conf/httpd.conf" -DFOREGROUND &
pids+=($!)
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<MSG

mod_chat demo is running (event MPM, private Redis on port $REDIS_PORT).
  chat as alice:  http://127.0.0.1:$PORT/chat/lobby?username=alice
  chat as bob:    http://127.0.0.1:$PORT/chat/lobby?username=bob
  echo endpoint:  ws://127.0.0.1:$PORT/chat-echo
  admin API:      http://127.0.0.1:$PORT/chat-admin/api/  (Authorization: Bearer $SECRET)
  admin secret:   $SECRET
  logs:           $RUN/logs/
Press Ctrl-C to stop.
MSG
wait "${pids[1]}"
