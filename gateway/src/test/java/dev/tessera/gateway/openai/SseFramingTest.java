package dev.tessera.gateway.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The exact server-sent-event framing, read as raw bytes over HTTP/1.1 and h2c. */
@Timeout(120)
class SseFramingTest {
    @TempDir
    static Path cache;
    private static TinyServer tiny;

    @BeforeAll
    static void start() {
        tiny = TinyServer.start(cache);
    }

    @AfterAll
    static void stop() {
        tiny.close();
    }

    /** The events of a body: each is exactly one {@code data: ...} line followed by a blank line. */
    private static List<String> events(String body) {
        assertTrue(body.endsWith("data: [DONE]\n\n"), body);
        List<String> out = new ArrayList<>();
        for (String event : body.substring(0, body.length() - 2).split("\n\n", -1)) {
            assertTrue(event.startsWith("data: "), "event '" + event + "'");
            assertFalse(event.contains("\n"), "one line per event: '" + event + "'");
            out.add(event.substring("data: ".length()));
        }
        assertEquals("[DONE]", out.remove(out.size() - 1));
        return out;
    }

    private static HttpResponse<String> post(HttpClient http, String path, String json) throws Exception {
        return http.send(TinyServer.post(tiny.port, path, json).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void chatChunksOverHttp1() throws Exception {
        checkChat(TinyServer.http(HttpClient.Version.HTTP_1_1), HttpClient.Version.HTTP_1_1);
    }

    @Test
    void chatChunksOverH2c() throws Exception {
        HttpClient http = TinyServer.http(HttpClient.Version.HTTP_2);
        // The JDK client upgrades a cleartext connection on a request without a body; the POST then reuses it.
        http.send(HttpRequest.newBuilder(URI.create(tiny.baseUrl() + "/models")).build(),
                HttpResponse.BodyHandlers.ofString());
        checkChat(http, HttpClient.Version.HTTP_2);
    }

    private static void checkChat(HttpClient http, HttpClient.Version version) throws Exception {
        HttpResponse<String> r = post(http, "/v1/chat/completions", "{\"model\":\"tiny\",\"messages\":[{\"role\":"
                + "\"user\",\"content\":\"Hi\"}],\"max_tokens\":3,\"n\":2,\"seed\":1,\"temperature\":0.9,"
                + "\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        assertEquals(200, r.statusCode());
        assertEquals(version, r.version());
        assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("text/event-stream"));
        List<String> events = events(r.body());
        JsonObject first = new JsonObject(events.get(0));
        String id = first.getString("id");
        assertTrue(id.startsWith("chatcmpl-"), id);
        List<List<JsonObject>> byIndex = List.of(new ArrayList<>(), new ArrayList<>());
        for (int i = 0; i < events.size() - 1; i++) {
            JsonObject chunk = new JsonObject(events.get(i));
            assertEquals(id, chunk.getString("id"));
            assertEquals("chat.completion.chunk", chunk.getString("object"));
            assertEquals("tiny", chunk.getString("model"));
            assertEquals(first.getLong("created"), chunk.getLong("created"));
            assertTrue(chunk.containsKey("usage") && chunk.getValue("usage") == null, "usage: null until the end");
            JsonArray choices = chunk.getJsonArray("choices");
            assertEquals(1, choices.size());
            JsonObject choice = choices.getJsonObject(0);
            byIndex.get(choice.getInteger("index")).add(choice);
        }
        for (List<JsonObject> choice : byIndex) {
            assertEquals(new JsonObject().put("role", "assistant").put("content", ""),
                    choice.get(0).getJsonObject("delta"));
            JsonObject last = choice.get(choice.size() - 1);
            assertEquals(new JsonObject(), last.getJsonObject("delta"));
            assertEquals("length", last.getString("finish_reason"));
            for (JsonObject c : choice.subList(1, choice.size() - 1)) {
                assertNull(c.getValue("finish_reason"));
                assertTrue(c.containsKey("finish_reason") && c.containsKey("logprobs"));
                assertTrue(c.getJsonObject("delta").getString("content").length() > 0);
            }
        }
        JsonObject usage = new JsonObject(events.get(events.size() - 1));
        assertEquals(new JsonArray(), usage.getJsonArray("choices"));
        assertEquals(6, usage.getJsonObject("usage").getInteger("completion_tokens"));
        assertEquals(usage.getJsonObject("usage").getInteger("prompt_tokens") + 6,
                usage.getJsonObject("usage").getInteger("total_tokens"));
    }

    @Test
    void completionChunks() throws Exception {
        HttpResponse<String> r = post(TinyServer.http(HttpClient.Version.HTTP_1_1), "/v1/completions",
                "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":4,\"ignore_eos\":true,\"stream\":true}");
        assertEquals(200, r.statusCode());
        List<String> events = events(r.body());
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < events.size(); i++) {
            JsonObject chunk = new JsonObject(events.get(i));
            assertEquals("text_completion", chunk.getString("object"));
            assertFalse(chunk.containsKey("usage"), "no usage unless asked");
            JsonObject choice = chunk.getJsonArray("choices").getJsonObject(0);
            assertEquals(0, choice.getInteger("index"));
            text.append(choice.getString("text"));
            if (i == events.size() - 1) {
                assertEquals("", choice.getString("text"));
                assertEquals("length", choice.getString("finish_reason"));
            } else {
                assertNull(choice.getValue("finish_reason"));
            }
        }
        HttpResponse<String> whole = post(TinyServer.http(HttpClient.Version.HTTP_1_1), "/v1/completions",
                "{\"model\":\"tiny\",\"prompt\":\"Once\",\"max_tokens\":4,\"ignore_eos\":true}");
        assertEquals(text.toString(), new JsonObject(whole.body()).getJsonArray("choices").getJsonObject(0)
                .getString("text"));
    }

    @Test
    void aRefusedStreamIsAPlainErrorResponse() throws Exception {
        HttpResponse<String> r = post(TinyServer.http(HttpClient.Version.HTTP_1_1), "/v1/completions",
                "{\"model\":\"tiny\",\"prompt\":\"Once\",\"top_p\":7,\"stream\":true}");
        assertEquals(400, r.statusCode());
        assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("application/json"));
        JsonObject error = new JsonObject(r.body()).getJsonObject("error");
        assertEquals("top_p", error.getString("param"));
        assertEquals("invalid_request_error", error.getString("type"));
        assertTrue(error.containsKey("code"));
    }
}
