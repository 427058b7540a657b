package dev.tessera.gateway.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.ext.web.Router;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code /metrics} renders off the event loops, and scrapes asked for during a render share it. */
class MetricsEndpointTest {
    private Vertx vertx;
    private HttpServer server;
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();
    private final AtomicInteger renders = new AtomicInteger();
    private final AtomicBoolean renderedOnEventLoop = new AtomicBoolean();
    /** Holds each render until released, so requests can arrive while one is in progress. */
    private volatile CountDownLatch release = new CountDownLatch(0);
    private final CountDownLatch firstRenderStarted = new CountDownLatch(1);
    /** Scrape requests that reached the handler. */
    private final AtomicInteger arrived = new AtomicInteger();

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
        Router router = Router.router(vertx);
        router.get("/metrics").handler(ctx -> {
            arrived.incrementAndGet();
            ctx.next();
        }).handler(new MetricsEndpoint(vertx, () -> {
            renderedOnEventLoop.compareAndSet(false, Context.isOnEventLoopThread());
            int n = renders.incrementAndGet();
            firstRenderStarted.countDown();
            if (!release.await(30, TimeUnit.SECONDS)) throw new IllegalStateException("never released");
            return "render " + n + "\n";
        }));
        router.get("/ping").handler(ctx -> ctx.response().end("pong"));
        server = vertx.createHttpServer().requestHandler(router).listen(0, "127.0.0.1")
                .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @AfterEach
    void stop() throws Exception {
        release.countDown();
        vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private CompletableFuture<HttpResponse<String>> get(String path) {
        return client.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.actualPort() + path))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void aScrapeRendersOnAWorkerWithThePrometheusContentType() throws Exception {
        HttpResponse<String> r = get("/metrics").get(30, TimeUnit.SECONDS);
        assertEquals(200, r.statusCode());
        assertEquals("render 1\n", r.body());
        assertEquals(MetricsEndpoint.CONTENT_TYPE, r.headers().firstValue("content-type").orElse(""));
        assertFalse(renderedOnEventLoop.get(), "the render ran on an event loop");
    }

    @Test
    void aSlowRenderBlocksNoEventLoopAndScrapesDuringItShareIt() throws Exception {
        release = new CountDownLatch(1);
        CompletableFuture<HttpResponse<String>> first = get("/metrics");
        assertTrue(firstRenderStarted.await(30, TimeUnit.SECONDS));
        // While the render is held, the event loops still answer, and further scrapes wait for the same render.
        assertEquals("pong", get("/ping").get(30, TimeUnit.SECONDS).body());
        List<CompletableFuture<HttpResponse<String>>> more = new ArrayList<>();
        for (int i = 0; i < 4; i++) more.add(get("/metrics"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (arrived.get() < 5) {
            assertTrue(System.nanoTime() < deadline, "scrapes arrived: " + arrived.get());
            Thread.onSpinWait();
        }
        assertEquals("pong", get("/ping").get(30, TimeUnit.SECONDS).body());
        release.countDown();
        assertEquals("render 1\n", first.get(30, TimeUnit.SECONDS).body());
        int sharedTheFirst = 0;
        for (CompletableFuture<HttpResponse<String>> f : more) {
            HttpResponse<String> r = f.get(30, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode());
            if (r.body().equals("render 1\n")) sharedTheFirst++;
        }
        // Each of the four reached the handler while render 1 was held, so each got render 1's text; no second
        // render was needed.
        assertEquals(4, sharedTheFirst);
        assertEquals(1, renders.get());
    }
}
