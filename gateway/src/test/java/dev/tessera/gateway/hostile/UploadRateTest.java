package dev.tessera.gateway.hostile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.gateway.edge.EdgeOptions;
import dev.tessera.gateway.edge.UploadRate;
import io.grpc.ManagedChannel;
import io.vertx.core.buffer.Buffer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real server holds each connection's uploads to its rate ({@code --max-upload-rate}, here 512 KiB a second
 * after a 128 KiB burst) on every transport, gRPC, the OpenAI HTTP API and the WebSocket bridge: a request padded to
 * 600 KB is paced (the server's pause counter moves) and answered exactly as the same request unpadded.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UploadRateTest {
    private static final int PADDING = 600_000;
    private static final Pattern PAUSES = Pattern.compile("(?m)^tessera:gateway_upload_pauses_total (\\S+)$");

    HostileServer server;

    @BeforeAll
    void start(@TempDir Path cache) {
        server = HostileServer.start(cache, HostileServer.loopback().withEdge(EdgeOptions.defaults()
                .withUploads(new UploadRate(512 << 10, 128 << 10))));
    }

    @AfterAll
    void stop() throws Exception {
        server.close();
    }

    private GenerateRequest request() {
        return GenerateRequest.newBuilder().setModel("tiny").setPrompt("The paced upload")
                .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(6).setIgnoreEos(true)).build();
    }

    private static List<Integer> tokens(ManagedChannel channel, GenerateRequest request) {
        List<Integer> ids = new ArrayList<>();
        Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel).generate(request);
        while (it.hasNext()) {
            GenerateResponse r = it.next();
            if (r.hasDelta()) ids.addAll(r.getDelta().getTokenIdsList());
        }
        return ids;
    }

    private double pauses() throws Exception {
        String metrics = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()
                .send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = PAUSES.matcher(metrics);
        assertTrue(m.find(), "the pause counter is exported");
        return Double.parseDouble(m.group(1));
    }

    @Test
    void aPaddedGenerateIsPacedAndGetsTheSameTokens() throws Exception {
        List<Integer> plain = tokens(server.channel, request());
        // a field no version of the API uses, skipped by the decoder: the same request, 600 KB on the wire
        GenerateRequest padded = request().toBuilder().setUnknownFields(UnknownFieldSet.newBuilder()
                .addField(9999, UnknownFieldSet.Field.newBuilder()
                        .addLengthDelimited(ByteString.copyFrom(new byte[PADDING])).build()).build()).build();
        double before = pauses();
        ManagedChannel fresh = HostileServer.channel(server.port, null); // a connection with a full bucket
        try {
            assertEquals(plain, tokens(fresh, padded));
        } finally {
            fresh.shutdownNow();
        }
        assertTrue(pauses() > before, "the padded request's connection was paused");
    }

    @Test
    void aPromptRefusedFromItsFirstBytesIsChargedAtItsAnnouncedLength() throws Exception {
        // a Generate whose 1 MB prompt is over tiny's bound; only its first 64 KiB are sent, under the 128 KiB burst
        Buffer whole = RawH2.frame(false, GenerateRequest.newBuilder().setModel("tiny")
                .setPrompt("a".repeat(1_000_000)).build().toByteArray());
        double before = pauses();
        try (RawH2 raw = new RawH2(server.port)) {
            RawH2.Answer a = raw.callOpen(WireCorpusTest.GENERATE, RawH2.grpcHeaders(), whole.slice(0, 64 << 10));
            WireCorpusTest.assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("prompt: 1000000 bytes of text exceed the limit of"),
                    a.grpcMessage());
        }
        // the rest of the message was charged when it was refused, though it never came: the connection went into
        // debt and was paused
        assertTrue(pauses() > before, "the refused message's connection was paused");
    }

    @Test
    void aPaddedCompletionIsPacedAndAnsweredAsTheSameCompletion() throws Exception {
        String json = "{\"model\":\"tiny\",\"prompt\":\"The paced upload\",\"max_tokens\":6,\"temperature\":0}";
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        String plain = completionText(http.send(post(json), HttpResponse.BodyHandlers.ofString()).body());
        double before = pauses();
        HttpClient fresh = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> paced = fresh.send(post(json + " ".repeat(PADDING)), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, paced.statusCode(), paced.body());
        assertEquals(plain, completionText(paced.body()));
        assertTrue(pauses() > before, "the padded body's connection was paused");
    }

    private HttpRequest post(String body) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/v1/completions"))
                .header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static String completionText(String response) {
        Matcher m = Pattern.compile("\"text\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(response);
        assertTrue(m.find(), response);
        return m.group(1);
    }

    @Test
    void aPaddedWebSocketMessageIsPacedAndAnswered() throws Exception {
        String message = "{\"requestId\":\"a\",\"generate\":{\"model\":\"tiny\",\"prompt\":\"Hi\","
                + "\"sampling\":{\"maxTokens\":2}}}";
        double before = pauses();
        try (RawWebSocket ws = RawWebSocket.upgrade(server.port, WebSocketEdgeTest.PATH)) {
            assertTrue(ws.upgraded());
            ws.send(1, (message + " ".repeat(PADDING)).getBytes(StandardCharsets.UTF_8));
            assertTrue(ws.readText().contains("\"delta\""), "the padded message's job runs");
        }
        assertTrue(pauses() > before, "the socket was paused");
    }
}
