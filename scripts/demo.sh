#!/bin/bash
# The README's first command: builds mod_chat and runs a demo chat server on
# http://127.0.0.1:${CHAT_PORT:-8080}/ with a private redis-server (AOF on),
# the event MPM, both modules and htdocs/. Room "lobby" is active with
# members alice and bob. Stays in the foreground until Ctrl-C or SIGTERM,
# then stops httpd and redis and leaves nothing running.
#   CHAT_PORT          httpd port (default 8080)
#   CHAT_REDIS_PORT    private Redis port (default: first free from 6390)
#   CHAT_ADMIN_SECRET  admin API secret, 16+ characters (default: generated)
#   CHAT_TOKEN_SECRET  ChatTokenSecret for signed tokens, 32+ characters (default:
#                      generated): the admin page mints tokens with it, and
#                      /chat-token/ROOM?token=... is the chat with token identity
#   CHAT_DEMO_SKIP_BUILD=1  skip install-deps.sh and build.sh (the tests, after a build)
#   CHAT_DEMO_RUN      the runtime dir (config, logs, Redis data); default run/demo,
#                      or /tmp/mod_chat-demo when www-data cannot read this clone
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PORT=${CHAT_PORT:-8080}
SECRET=${CHAT_ADMIN_SECRET:-$(openssl rand -hex 16 2>/dev/null || head -c16 /dev/urandom | od -An -tx1 | tr -d ' \n')}
TOKEN_SECRET=${CHAT_TOKEN_SECRET:-$(openssl rand -hex 32 2>/dev/null || head -c32 /dev/urandom | od -An -tx1 | tr -d ' \n')}
RUN_USER=www-data

die() { echo "demo: $*" >&2; exit 1; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

[ "${#SECRET}" -ge 16 ] || die "CHAT_ADMIN_SECRET must have at least 16 characters"
[ "${#TOKEN_SECRET}" -ge 32 ] || die "CHAT_TOKEN_SECRET must have at least 32 characters"
port_busy "$PORT" && die "port $PORT is in use: stop what listens there or set CHAT_PORT"
if [ -n "${CHAT_REDIS_PORT:-}" ]; then
  REDIS_PORT=$CHAT_REDIS_PORT
  port_busy "$REDIS_PORT" && die "port $REDIS_PORT is in use: set another CHAT_REDIS_PORT"
else
  REDIS_PORT=6390
  while port_busy "$REDIS_PORT"; do REDIS_PORT=$((REDIS_PORT + 1)); done
fi

if [ "${CHAT_DEMO_SKIP_BUILD:-}" != 1 ]; then
  bash scripts/install-deps.sh
  bash scripts/build.sh
fi

# httpd's children run as $RUN_USER and must read htdocs and write uploads.
# A clone in a private directory (e.g. /root) is not reachable for them:
# then the runtime dir and a copy of htdocs live under /tmp.
if runuser -u "$RUN_USER" -- test -r "$REPO/htdocs/index.html" 2>/dev/null; then
  RUN="${CHAT_DEMO_RUN:-$REPO/run/demo}"
  DOCROOT="$REPO/htdocs"
  mkdir -p "$(dirname "$RUN")"
  [ -n "${CHAT_DEMO_RUN:-}" ] || chmod 755 "$REPO/run"
else
  RUN="${CHAT_DEMO_RUN:-/tmp/mod_chat-demo}"
  DOCROOT="$RUN/htdocs"
  rm -rf "$DOCROOT"
  mkdir -p "$RUN"
  cp -r "$REPO/htdocs" "$DOCROOT"
  chmod -R a+rX "$DOCROOT"
fi
mkdir -p "$RUN/logs" "$RUN/redis" "$RUN/conf" "$RUN/uploads"
chown "$RUN_USER:$RUN_USER" "$RUN/uploads"
chmod 755 "$RUN" "$RUN/logs"
chmod 700 "$RUN/conf"
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
# AI when a key is in the environment (DEEPSEEK_API_KEY, GEMINI_API_KEY);
# without one the AI buttons say that AI is not configured.
AI_CONF=""
# (a provider named deepseek uses deepseek-reasoner 00:30-08:30 Beijing time by default)
if [ -n "${DEEPSEEK_API_KEY:-}" ]; then
  AI_CONF+=$'ChatAIProvider deepseek openai https://api.deepseek.com\nChatAIKey deepseek env:DEEPSEEK_API_KEY\n'
fi
if [ -n "${GEMINI_API_KEY:-}" ]; then
  AI_CONF+=$'ChatAIProvider gemini gemini https://generativelanguage.googleapis.com\nChatAIKey gemini env:GEMINI_API_KEY\n'
fi
AI_STATE="off (set DEEPSEEK_API_KEY or GEMINI_API_KEY to turn it on)"
[ -n "$AI_CONF" ] && AI_STATE="on"
cat > "$RUN/conf/httpd.conf" <<CONF
# Demo configuration written by scripts/demo.sh (see conf/chat.conf for the
# drop-in version a sysadmin uses).
ServerRoot $RUN
DefaultRuntimeDir $RUN/logs
PidFile $RUN/httpd.pid
Listen 127.0.0.1:$PORT
ServerName 127.0.0.1
User $RUN_USER
Group $RUN_USER
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
DocumentRoot $DOCROOT
DirectoryIndex index.html
<Directory $DOCROOT>
    Require all granted
</Directory>

Alias /chat-admin/ $DOCROOT/admin/
# the chat page and its relative asset URLs (client/chat.js) under /chat/ and /chat-token/
ChatClientDir $DOCROOT
AliasMatch "^/[^/]+/client/(.*)\$" "$DOCROOT/\$1"

ChatRedis 127.0.0.1:$REDIS_PORT
ChatAdminSecret $SECRET
# Signed tokens (the admin page's Token form mints them) for /chat-token/
ChatTokenSecret $TOKEN_SECRET
ChatUploadDir $RUN/uploads

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
<Location /chat/files>
    SetHandler chat-files
</Location>
<Location /chat/ai>
    SetHandler chat-ai
    ChatIdentity query
</Location>
# The same chat with signed tokens: /chat-token/ROOM?token=... (a token from
# the admin page, or from POST /chat-admin/api/tokens)
<LocationMatch "^/chat-token/[^/]+$">
    SetHandler chat
    ChatIdentity token
</LocationMatch>
<Location /chat-token/files>
    SetHandler chat-files
</Location>
<Location /chat-token/ai>
    SetHandler chat-ai
    ChatIdentity token
</Location>
# A scheduled job to look at in the admin page (Run now posts it at once)
ChatJobTimeZone Asia/Shanghai
ChatJob morning "0 9 * * 1-5" post lobby "早上好！Good morning: markets open soon."
$AI_CONF
CONF
chmod 600 "$RUN/conf/httpd.conf"   # holds the admin secret
/usr/sbin/apache2 -t -f "$RUN/conf/httpd.conf" >/dev/null 2>"$RUN/logs/configtest.log" \
  || { cat "$RUN/logs/configtest.log" >&2; die "the generated httpd.conf does not pass apache2 -t"; }

pids=()
cleanup() {
  local rc=$?
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
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

redis-server "$RUN/conf/redis.conf" &
pids+=($!)
# Redis answers as soon as it listens, but while it reads its AOF (the data of
# earlier runs, any size) every command gets LOADING: httpd starts, and the
# rooms are set up, only once PING says PONG.
waited=0
until [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; do
  kill -0 "${pids[0]}" 2>/dev/null || die "redis-server did not start: see $RUN/logs/redis.log"
  if [ "$waited" = 50 ]; then
    echo "demo: waiting for Redis to load its data ($RUN/redis)..."
  fi
  waited=$((waited + 1))
  sleep 0.1
done

ulimit -n 65536 2>/dev/null || true
/usr/sbin/apache2 -f "$RUN/conf/httpd.conf" -DFOREGROUND &
pids+=($!)
for i in $(seq 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null && break
  kill -0 "${pids[1]}" 2>/dev/null || { tail -20 "$RUN/logs/error.log" >&2; die "httpd did not start"; }
  [ "$i" -lt 100 ] || die "httpd does not answer on port $PORT: see $RUN/logs/error.log"
  sleep 0.1
done

# Room "lobby" with members alice and bob, through the admin API (so the
# Redis key layout stays in the C code alone).
for u in alice bob; do
  curl -fsS -o /dev/null -X POST -H "Authorization: Bearer $SECRET" \
    -H 'Content-Type: application/json' -d "{\"username\": \"$u\"}" \
    "http://127.0.0.1:$PORT/chat-admin/api/rooms/lobby/members" \
    || die "could not add $u to room lobby through the admin API: see $RUN/logs/error.log"
done

# A token for alice (a day), to show how token identity is used
TOKEN=$(curl -fsS -X POST -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/json' \
  -d '{"username": "alice", "ttl": 86400}' "http://127.0.0.1:$PORT/chat-admin/api/tokens" \
  | sed -n 's/.*"token":"\([^"]*\)".*/\1/p') || true
[ -n "$TOKEN" ] || die "could not mint a token through the admin API: see $RUN/logs/error.log"

cat <<MSG

mod_chat demo is running (event MPM, private Redis on port $REDIS_PORT).
  chat as alice:  http://127.0.0.1:$PORT/chat/lobby?username=alice
  chat as bob:    http://127.0.0.1:$PORT/chat/lobby?username=bob
  echo endpoint:  ws://127.0.0.1:$PORT/chat-echo
  admin page:     http://127.0.0.1:$PORT/chat-admin/
  admin API:      http://127.0.0.1:$PORT/chat-admin/api/  (Authorization: Bearer $SECRET)
  admin secret:   $SECRET
  chat with a token (alice, valid 24 h):
                  http://127.0.0.1:$PORT/chat-token/lobby?token=$TOKEN
                  (mint one for any member on the admin page, Token, then open
                   http://127.0.0.1:$PORT/chat-token/ROOM?token=THE_TOKEN)
  AI:             $AI_STATE
  logs:           $RUN/logs/
Press Ctrl-C to stop.
MSG
wait "${pids[1]}"
