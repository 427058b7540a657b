package dev.tessera.gateway.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.gateway.edge.EdgeOptions;
import dev.tessera.gateway.edge.OriginPolicy;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The WebSocket rows of issue 9 against a real server ({@code builtin:tiny}), beside a greedy canary: the upgrade
 * is refused to an origin that is neither the server's own nor listed (row 7), and a text frame that is not UTF-8
 * closes the socket with 1007 (row 8).
 */
@Timeout(120)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WebSocketEdgeTest {
    static final String PATH = "/v1/session";
    static final String GOOD = "{\"requestId\":\"a\",\"generate\":{\"model\":\"tiny\",\"prompt\":\"Hi\","
            + "\"sampling\":{\"maxTokens\":2}}}";

    HostileServer server;
    List<Integer> solo;

    @BeforeAll
    void start(@TempDir Path cache) {
        server = HostileServer.start(cache, HostileServer.loopback().withEdge(EdgeOptions.defaults()
                .withOrigins(new OriginPolicy(List.of("https://app.example")))));
        solo = Canary.solo(server.channel);
    }

    @AfterAll
    void stop() throws Exception {
        server.close();
    }

    @Test
    void row7OnlyTheSameOriginAndListedOriginsMayUpgrade() throws Exception {
        Canary canary = Canary.start(server.canaryChannel);
        try (RawWebSocket evil = RawWebSocket.upgrade(server.port, PATH, "Origin: https://evil.example")) {
            assertTrue(evil.status.startsWith("HTTP/1.1 403"), evil.status);
        }
        canary.step();
        try (RawWebSocket opaque = RawWebSocket.upgrade(server.port, PATH, "Origin: null")) {
            assertTrue(opaque.status.startsWith("HTTP/1.1 403"), opaque.status);
        }
        canary.step();
        try (RawWebSocket otherPort = RawWebSocket.upgrade(server.port, PATH,
                "Origin: http://127.0.0.1:" + (server.port + 1))) {
            assertTrue(otherPort.status.startsWith("HTTP/1.1 403"), otherPort.status);
        }
        for (String allowed : new String[] {"Origin: http://127.0.0.1:" + server.port, "Origin: https://app.example",
            "X-No-Origin: a client that is not a browser"}) {
            try (RawWebSocket ws = RawWebSocket.upgrade(server.port, PATH, allowed)) {
                assertTrue(ws.upgraded(), allowed + ": " + ws.status);
                ws.send(1, GOOD.getBytes(StandardCharsets.UTF_8));
                assertTrue(ws.readText().contains("\"delta\""), allowed);
            }
            canary.step();
        }
        canary.assertIdentical(solo);
    }

    @Test
    void row8TextThatIsNotUtf8ClosesWith1007() throws Exception {
        Canary canary = Canary.start(server.canaryChannel);
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, PATH)) {
            assertTrue(ws.upgraded(), ws.status);
            byte[] bad = "{\"requestId\":\"a\",\"generate\":{\"prompt\":\"\u00e9\"}}".getBytes(StandardCharsets.UTF_8);
            bad[bad.length - 5] = (byte) 0xc3; // é's first byte ...
            bad[bad.length - 4] = 0x28;        // ... followed by a byte that cannot continue it
            assertFalse(new String(bad, StandardCharsets.UTF_8).contains("\u00e9"));
            ws.send(1, bad);
            assertEquals(1007, ws.awaitClose());
        }
        canary.step();
        canary.assertIdentical(solo);
    }

    @Test
    void aLargeMessageIsDecodedOffTheLoopAndTheSocketGoesOn() throws Exception {
        Canary canary = Canary.start(server.canaryChannel);
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, PATH)) {
            assertTrue(ws.upgraded(), ws.status);
            // 900 KB (under the 1 MiB message limit, over the 64 KiB decoded on the loop), then a small job.
            String huge = "{\"requestId\":\"huge\",\"generate\":{\"model\":\"tiny\",\"prompt\":\""
                    + "a".repeat(900_000) + "\"}}";
            ws.send(1, huge.getBytes(StandardCharsets.UTF_8));
            ws.send(1, GOOD.getBytes(StandardCharsets.UTF_8));
            String refusal = null;
            boolean small = false;
            while (refusal == null || !small) {
                String m = ws.readText();
                if (m.contains("\"requestId\":\"huge\"")) refusal = m;
                small |= m.contains("\"requestId\":\"a\"");
            }
            assertTrue(refusal.contains("\"code\":3")
                    && refusal.contains("prompt: 900000 bytes of text exceed the limit of"), refusal);
        }
        canary.step();
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, PATH)) {
            byte[] bad = ("{\"requestId\":\"b\",\"generate\":{\"prompt\":\"" + "a".repeat(100_000) + "\u00e9\"}}")
                    .getBytes(StandardCharsets.UTF_8);
            bad[bad.length - 4] = 0x28; // é's second byte replaced: not UTF-8, found off the loop
            ws.send(1, bad);
            assertEquals(1007, ws.awaitClose());
        }
        canary.step();
        canary.assertIdentical(solo);
    }
}
