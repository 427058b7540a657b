package dev.tessera.gateway.openai;

import static dev.tessera.gateway.openai.TinyServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonObject;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed requests each get a clear 4xx in OpenAI's error shape (bad JSON, not JSON, the wrong content type, a
 * body over the limit with or without a declared length, wrong types, unknown paths and methods), while a good
 * stream running meanwhile is unaffected: it ends with the very text it makes alone.
 */
@Timeout(120)
class BadRequestsTest {
    private static final String GOOD = "{\"model\":\"tiny\",\"prompt\":\"A steady stream\",\"max_tokens\":64,"
            + "\"ignore_eos\":true,\"stream\":true}";

    @TempDir
    static Path cache;
    private static TinyServer tiny;
    private static HttpClient http;

    @BeforeAll
    static void start() {
        tiny = TinyServer.start(cache);
        http = TinyServer.http(HttpClient.Version.HTTP_1_1);
    }

    @AfterAll
    static void stop() {
        tiny.close();
    }

    private static JsonObject error(HttpResponse<String> r, int status) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("application/json"));
        JsonObject error = new JsonObject(r.body()).getJsonObject("error");
        assertTrue(error.containsKey("message") && error.containsKey("type") && error.containsKey("param")
                && error.containsKey("code"), r.body());
        return error;
    }

    private static HttpResponse<String> send(HttpRequest request) throws Exception {
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private static String streamedText(Stream<String> lines) {
        StringBuilder text = new StringBuilder();
        lines.filter(l -> l.startsWith("data: {")).forEach(l -> text.append(new JsonObject(l.substring(6))
                .getJsonArray("choices").getJsonObject(0).getString("text")));
        return text.toString();
    }

    @Test
    void badRequestsAreRefusedWhileAGoodStreamGoesOn() throws Exception {
        String alone = streamedText(http.send(TinyServer.post(tiny.port, "/v1/completions", GOOD).build(),
                HttpResponse.BodyHandlers.ofLines()).body());

        AtomicInteger lines = new AtomicInteger();
        CompletableFuture<String> good = CompletableFuture.supplyAsync(() -> {
            try {
                HttpResponse<Stream<String>> r = TinyServer.http(HttpClient.Version.HTTP_1_1).send(
                        TinyServer.post(tiny.port, "/v1/completions", GOOD).build(),
                        HttpResponse.BodyHandlers.ofLines());
                return streamedText(r.body().peek(l -> lines.incrementAndGet()));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        eventually("the good stream started", () -> lines.get() > 0);

        JsonObject json = error(send(TinyServer.post(tiny.port, "/v1/completions", "{\"model\": \"tiny\", \"prompt\":")
                .build()), 400);
        assertTrue(json.getString("message").contains("not valid JSON"), json.encode());
        assertNull(json.getValue("param"));

        JsonObject type = error(send(HttpRequest.newBuilder(URI.create(tiny.baseUrl() + "/completions"))
                .header("content-type", "text/plain").POST(HttpRequest.BodyPublishers.ofString("{}")).build()), 415);
        assertTrue(type.getString("message").contains("application/json"), type.encode());

        String huge = "{\"model\":\"tiny\",\"prompt\":\"" + "x".repeat(2 << 20) + "\"}";
        JsonObject declared = error(send(TinyServer.post(tiny.port, "/v1/completions", huge).build()), 413);
        assertTrue(declared.getString("message").contains("limit"), declared.encode());
        byte[] hugeBytes = huge.getBytes(StandardCharsets.UTF_8);
        error(send(HttpRequest.newBuilder(URI.create(tiny.baseUrl() + "/chat/completions"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(hugeBytes))).build()),
                413);

        // Text over the model's byte bound: refused right after parsing, naming the field the client sent.
        JsonObject prompt = error(send(TinyServer.post(tiny.port, "/v1/completions", "{\"model\":\"tiny\","
                + "\"prompt\":\"" + "x".repeat(100_000) + "\"}").build()), 400);
        assertEquals("prompt", prompt.getString("param"), prompt.encode());
        assertTrue(prompt.getString("message").startsWith("prompt: 100000 bytes of text exceed the limit of"),
                prompt.encode());
        JsonObject chat = error(send(TinyServer.post(tiny.port, "/v1/chat/completions", "{\"model\":\"tiny\","
                + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\",\"content\":\""
                + "é".repeat(50_000) + "\"}]}").build()), 400);
        assertEquals("messages[1].content", chat.getString("param"), chat.encode());
        assertTrue(chat.getString("message").startsWith("messages[1].content: 100002 bytes of text exceed the limit"),
                chat.encode());

        error(send(TinyServer.post(tiny.port, "/v1/completions", "[1, 2]").build()), 400);
        error(send(TinyServer.post(tiny.port, "/v1/chat/completions", "").build()), 400);
        assertEquals("messages", error(send(TinyServer.post(tiny.port, "/v1/chat/completions",
                "{\"model\":\"tiny\"}").build()), 400).getString("param"));
        assertEquals("messages[0].content[0].type", error(send(TinyServer.post(tiny.port, "/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"audio\"}]}]}").build()), 400)
                .getString("param"));
        assertEquals("temperature", error(send(TinyServer.post(tiny.port, "/v1/completions",
                "{\"prompt\":\"x\",\"temperature\":\"hot\"}").build()), 400).getString("param"));
        assertEquals("prompt", error(send(TinyServer.post(tiny.port, "/v1/completions",
                "{\"prompt\":[\"a\",\"b\"]}").build()), 400).getString("param"));
        assertEquals("prompt", error(send(TinyServer.post(tiny.port, "/v1/completions",
                "{\"prompt\":[1, 999999999]}").build()), 400).getString("param"));
        error(send(HttpRequest.newBuilder(URI.create(tiny.baseUrl() + "/embeddings")).GET().build()), 404);
        error(send(HttpRequest.newBuilder(URI.create(tiny.baseUrl() + "/chat/completions")).GET().build()), 405);

        assertEquals(alone, good.get(60, TimeUnit.SECONDS));
        eventually("every KV block free", tiny::idle);
    }
}
