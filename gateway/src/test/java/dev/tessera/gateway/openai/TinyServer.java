package dev.tessera.gateway.openai;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import dev.tessera.builtin.BuiltinModels;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.gateway.GatewayOptions;
import dev.tessera.gateway.ModelSpec;
import dev.tessera.gateway.TesseraServer;
import dev.tessera.scheduler.text.TextConfig;
import dev.tessera.scheduler.text.TextStats;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;

/** A real server on a loopback port serving {@code builtin:tiny} (random weights), and clients for it. */
final class TinyServer implements AutoCloseable {
    final TesseraServer server;
    final int port;

    private TinyServer(TesseraServer server) {
        this.server = server;
        this.port = server.gateway().port();
    }

    static GatewayOptions loopback() {
        return GatewayOptions.defaults().withHost("127.0.0.1").withPort(0).withMaxMessageBytes(1 << 20)
                .withGracePeriod(Duration.ofSeconds(10));
    }

    static TinyServer start(Path cache) {
        TextEngineOptions engine = TextEngineOptions.defaults(BuiltinModels.materialize("tiny", cache))
                .withName("tiny").withCacheDir(cache).withKvMemoryBytes(32L << 20).withThreads(2);
        return new TinyServer(TesseraServer.start(loopback(), new ModelSpec.Text(engine, TextConfig.defaults())));
    }

    String baseUrl() {
        return "http://127.0.0.1:" + port + "/v1";
    }

    /** The official OpenAI Java SDK, pointed at this server, without retries (a test wants the first answer). */
    OpenAIClient client() {
        return OpenAIOkHttpClient.builder().baseUrl(baseUrl()).apiKey("unused").maxRetries(0)
                .timeout(Duration.ofSeconds(60)).build();
    }

    TextStats stats() {
        return (TextStats) server.scheduler().stats("tiny");
    }

    /** Nothing runs or waits, and every KV block is free. */
    boolean idle() {
        TextStats s = stats();
        return s.running() == 0 && s.waiting() == 0 && s.kvFreeBlocks() == s.kvTotalBlocks();
    }

    static HttpRequest.Builder post(int port, String path, String json) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("content-type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
    }

    static HttpClient http(HttpClient.Version version) {
        return HttpClient.newBuilder().version(version).connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** Waits (up to 30 s) for {@code condition}; fails with {@code what} otherwise. */
    static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) assertTrue(condition.getAsBoolean(), "timed out waiting for: " + what);
            Thread.sleep(10);
        }
    }

    @Override
    public void close() {
        server.close();
    }
}
