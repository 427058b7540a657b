package dev.tessera.gateway.openai;

import static dev.tessera.gateway.openai.TinyServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that goes away mid-answer aborts its job, and every KV block is free again: a streamed answer over
 * HTTP/1.1 (connection closed) and h2c (stream reset), and a whole answer still being made.
 */
@Timeout(120)
class DisconnectTest {
    private static final String LONG = "\"max_tokens\":2000,\"ignore_eos\":true";

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

    @Test
    void closingTheConnectionMidStreamFreesEveryBlock() throws Exception {
        try (RawHttp client = RawHttp.post(tiny.port, "/v1/chat/completions", "{\"model\":\"tiny\",\"messages\":"
                + "[{\"role\":\"user\",\"content\":\"Tell me a very long story\"}]," + LONG + ",\"stream\":true}")) {
            assertEquals("HTTP/1.1 200 OK", client.statusLine());
            client.readEvents(4);
            assertEquals(1, tiny.stats().running());
            assertTrue(tiny.stats().kvFreeBlocks() < tiny.stats().kvTotalBlocks());
        }
        eventually("the abandoned job freed its blocks", tiny::idle);
    }

    @Test
    void resettingAnH2StreamFreesEveryBlock() throws Exception {
        HttpClient http = TinyServer.http(HttpClient.Version.HTTP_2);
        http.send(HttpRequest.newBuilder(URI.create(tiny.baseUrl() + "/models")).build(),
                HttpResponse.BodyHandlers.discarding());
        HttpResponse<InputStream> r = http.send(TinyServer.post(tiny.port, "/v1/completions",
                "{\"model\":\"tiny\",\"prompt\":\"A long one\"," + LONG + ",\"stream\":true}").build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(HttpClient.Version.HTTP_2, r.version());
        try (InputStream body = r.body()) {
            byte[] some = body.readNBytes(200);
            assertEquals(200, some.length);
            eventually("the job runs", () -> tiny.stats().running() == 1);
        }
        eventually("the reset stream's job freed its blocks", tiny::idle);
    }

    @Test
    void closingWhileAWholeAnswerIsMadeFreesEveryBlock() throws Exception {
        try (RawHttp client = RawHttp.post(tiny.port, "/v1/completions",
                "{\"model\":\"tiny\",\"prompt\":\"Never read\"," + LONG + "}")) {
            eventually("the job runs", () -> tiny.stats().running() == 1);
        }
        eventually("the abandoned job freed its blocks", tiny::idle);
    }
}
