package dev.tessera.gateway.hostile;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * A WebSocket client written by hand on a plain socket (RFC 6455), for what a WebSocket library will not send:
 * any {@code Origin}, text frames whose bytes are not UTF-8.
 */
final class RawWebSocket implements AutoCloseable {
    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;
    /** The status line of the upgrade's answer. */
    final String status;

    private RawWebSocket(Socket socket, String status) throws IOException {
        this.socket = socket;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
        this.status = status;
    }

    /** Sends the upgrade to {@code path} with {@code extraHeaders} (full lines) and reads the answer's head. */
    static RawWebSocket upgrade(int port, String path, String... extraHeaders) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(30_000);
        StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n"
                + "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(new byte[16]) + "\r\n");
        for (String h : extraHeaders) req.append(h).append("\r\n");
        req.append("\r\n");
        s.getOutputStream().write(req.toString().getBytes(StandardCharsets.US_ASCII));
        DataInputStream in = new DataInputStream(s.getInputStream());
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
            int b = in.read();
            if (b < 0) break;
            head.write(b);
        }
        String status = head.toString(StandardCharsets.US_ASCII).split("\r\n", 2)[0];
        return new RawWebSocket(s, status);
    }

    boolean upgraded() {
        return status.startsWith("HTTP/1.1 101");
    }

    /** Sends one final, masked frame of {@code opcode} (1 text, 2 binary) with {@code payload} as is. */
    void send(int opcode, byte[] payload) throws IOException {
        ByteArrayOutputStream f = new ByteArrayOutputStream();
        f.write(0x80 | opcode);
        if (payload.length < 126) {
            f.write(0x80 | payload.length);
        } else if (payload.length < 65536) {
            f.write(0x80 | 126);
            f.write(payload.length >> 8);
            f.write(payload.length & 0xff);
        } else {
            f.write(0x80 | 127);
            for (int shift = 56; shift >= 0; shift -= 8) f.write((int) ((long) payload.length >> shift) & 0xff);
        }
        byte[] mask = {1, 2, 3, 4};
        f.write(mask);
        for (int i = 0; i < payload.length; i++) f.write(payload[i] ^ mask[i % 4]);
        out.write(f.toByteArray());
        out.flush();
    }

    /** Reads frames until a close frame and returns its status code (-1 if it has none, -2 if the socket ended). */
    int awaitClose() throws IOException {
        while (true) {
            int b0 = in.read();
            if (b0 < 0) return -2;
            int len = in.read() & 0x7f;
            if (len == 126) {
                len = in.readUnsignedShort();
            } else if (len == 127) {
                len = (int) in.readLong();
            }
            byte[] payload = in.readNBytes(len);
            if ((b0 & 0x0f) == 8) {
                return payload.length >= 2 ? ((payload[0] & 0xff) << 8) | (payload[1] & 0xff) : -1;
            }
        }
    }

    /** Reads frames until a text frame and returns its text. */
    String readText() throws IOException {
        while (true) {
            int b0 = in.read();
            if (b0 < 0) throw new IOException("the socket ended");
            int len = in.read() & 0x7f;
            if (len == 126) {
                len = in.readUnsignedShort();
            } else if (len == 127) {
                len = (int) in.readLong();
            }
            byte[] payload = in.readNBytes(len);
            if ((b0 & 0x0f) == 1) return new String(payload, StandardCharsets.UTF_8);
            if ((b0 & 0x0f) == 8) throw new IOException("closed");
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
