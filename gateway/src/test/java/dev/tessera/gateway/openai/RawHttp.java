package dev.tessera.gateway.openai;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** An HTTP/1.1 request written by hand on a plain socket, for tests that must control reading and closing. */
final class RawHttp implements AutoCloseable {
    private final Socket socket;
    private final BufferedReader in;

    private RawHttp(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
    }

    /** Opens a connection and sends a POST of {@code json}; nothing is read yet. */
    static RawHttp post(int port, String path, String json) throws IOException {
        Socket s = new Socket("127.0.0.1", port);
        s.setSoTimeout(60_000);
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        OutputStream out = s.getOutputStream();
        out.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(body);
        out.flush();
        return new RawHttp(s);
    }

    /** Reads lines until {@code n} server-sent {@code data:} lines have come. */
    void readEvents(int n) throws IOException {
        int seen = 0;
        while (seen < n) {
            String line = in.readLine();
            if (line == null) throw new IOException("the server closed after " + seen + " events");
            if (line.startsWith("data: ")) seen++;
        }
    }

    /** Reads the status line. */
    String statusLine() throws IOException {
        return in.readLine();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
