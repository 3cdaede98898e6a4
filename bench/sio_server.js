// Socket.IO 4 + @socket.io/redis-adapter reference server for bench/compare.sh.
//   node bench/sio_server.js PORT REDIS_PORT
// A client connects to /socket.io/?EIO=4&transport=websocket&room=R, is put in
// room R and gets "welcome"; every "chat" event it sends is emitted to the whole
// room (sender included) through the Redis adapter, so members on the other
// process get it too. Nothing is stored: Socket.IO has no history of its own.
"use strict";
const { createServer } = require("http");
const { Server } = require("socket.io");
const { createAdapter } = require("@socket.io/redis-adapter");
const { createClient } = require("redis");

const port = Number(process.argv[2]);
const redisPort = Number(process.argv[3]);

async function main() {
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  // websocket only: the load client skips the polling upgrade dance
  const io = new Server(http, { transports: ["websocket"], adapter: createAdapter(pub, sub) });
  io.on("connection", (socket) => {
    const room = String(socket.handshake.query.room || "r0");
    socket.join(room);
    socket.emit("welcome", room);
    socket.on("chat", (text) => io.to(room).emit("chat", text));
  });
  // the same accept queue as the other two servers (bench/compare.py)
  http.listen(port, "127.0.0.1", 4096, () => console.log(`listening ${port}`));
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
