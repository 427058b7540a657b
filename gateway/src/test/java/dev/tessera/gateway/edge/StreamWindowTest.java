package dev.tessera.gateway.edge;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A stream's receive window, against a real Vert.x HTTP/2 server with the gateway's settings: HTTP/2's 64 KiB until
 * {@link StreamWindow#open}, 1 MiB after. The server never reads either body, so what a client can send is what its
 * window lets out.
 */
class StreamWindowTest {
    private static final int KIB = 1 << 10;
    private final Vertx vertx = Vertx.vertx();

    @AfterEach
    void stop() throws Exception {
        vertx.close().await(10, TimeUnit.SECONDS);
    }

    @Test
    void anOpenedStreamTakesAMebibyteWhileAnUnopenedOneStopsAtHttp2sFirstWindow() throws Exception {
        HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(0)
                        .setHttp2ClearTextEnabled(true)
                        .setInitialSettings(new Http2Settings().setInitialWindowSize(StreamWindow.INITIAL))
                        .setHttp2ConnectionWindowSize(8 << 20))
                .requestHandler(req -> {
                    req.pause(); // never read: no flow-control credit comes back
                    if (req.path().equals("/open")) StreamWindow.open(req);
                });
        server.listen().await(10, TimeUnit.SECONDS);
        HttpClient client = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
                .setHttp2ClearTextUpgrade(false).setDefaultHost("127.0.0.1").setDefaultPort(server.actualPort()));

        // both on one connection, the unopened stream first
        AtomicLong closed = upload(client, "/closed", 2 << 20);
        AtomicLong open = upload(client, "/open", 2 << 20);
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (open.get() < 512 * KIB) {
            if (System.nanoTime() > end) throw new AssertionError("the opened stream sent only " + open.get());
            Thread.sleep(5);
        }
        assertTrue(closed.get() <= StreamWindow.INITIAL,
                "the unopened stream sent at most its first window: " + closed.get());
        assertTrue(open.get() <= StreamWindow.OPEN, "the opened one at most its open window: " + open.get());
    }

    /** Starts a POST of {@code bytes} in 16 KiB pieces, each after the last was sent; counts the bytes sent. */
    private static AtomicLong upload(HttpClient client, String path, int bytes) {
        AtomicLong sent = new AtomicLong();
        Buffer piece = Buffer.buffer(new byte[16 * KIB]);
        client.request(HttpMethod.POST, path).onSuccess(req -> {
            req.setChunked(true);
            Future<Void> chain = Future.succeededFuture();
            for (int at = 0; at < bytes; at += piece.length()) {
                chain = chain.compose(v -> req.write(piece).onSuccess(w -> sent.addAndGet(piece.length())));
            }
        });
        return sent;
    }
}
