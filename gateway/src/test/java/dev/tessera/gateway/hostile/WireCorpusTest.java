package dev.tessera.gateway.hostile;

import static dev.tessera.gateway.hostile.RawH2.frame;
import static dev.tessera.gateway.hostile.RawH2.grpcHeaders;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.CodedOutputStream;
import dev.tessera.api.v1.ChatMessage;
import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.hostile.RawH2.Answer;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
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
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bad-input corpus of issue 9, sent as raw HTTP/2 to a real server ({@code builtin:tiny}) on loopback while a
 * greedy canary stream runs beside it: each case gets the status gRPC specifies, and the canary's tokens stay
 * those it makes alone. Row numbers refer to the table.
 */
@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WireCorpusTest {
    static final String GENERATE = "/tessera.v1.Inference/Generate";
    static final String SESSION = "/tessera.v1.Inference/Session";
    static final String LIST_MODELS = "/tessera.v1.Inference/ListModels";
    /** Messages up to 8 MiB: room for a 4 MB prompt (row 1). */
    static final int MAX_MESSAGE = 8 << 20;

    /** Bytes that are not a protobuf message, or not a valid one (row 2). */
    static final byte[][] MALFORMED = {
        {0x08, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff,
            (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x01},   // a varint of 11 bytes
        {0x12, 0x7f, 'a', 'b'},                             // a length past the end
        {0x0f, 0x00},                                       // wire type 7
    };
    /** {@code prompt} (field 2) holding invalid UTF-8. */
    static final byte[] BAD_UTF8_PROMPT = {0x12, 0x02, (byte) 0xc3, 0x28};

    HostileServer server;
    RawH2 raw;
    List<Integer> solo;

    @BeforeAll
    void start(@TempDir Path cache) {
        server = HostileServer.start(cache, HostileServer.loopback().withMaxMessageBytes(MAX_MESSAGE));
        raw = new RawH2(server.port);
        solo = Canary.solo(server.channel);
    }

    @AfterAll
    void stop() throws Exception {
        raw.close();
        server.close();
    }

    interface Hostile {
        void send() throws Exception;
    }

    /** Runs {@code cases} one by one with the canary read between each, then checks the canary's tokens. */
    void besideCanary(Hostile... cases) throws Exception {
        Canary canary = Canary.start(server.canaryChannel);
        for (Hostile c : cases) {
            c.send();
            canary.step();
        }
        canary.assertIdentical(solo);
    }

    static Buffer generate(GenerateRequest r) {
        return frame(false, r.toByteArray());
    }

    static GenerateRequest greedy(String prompt, int maxTokens) {
        return GenerateRequest.newBuilder().setModel("tiny").setPrompt(prompt)
                .setSampling(SamplingParams.newBuilder().setTemperature(0).setMaxTokens(maxTokens)).build();
    }

    static void assertStatus(int code, Answer a) {
        assertEquals(200, a.httpStatus(), a.toString());
        assertNull(a.resetCode(), a.toString());
        assertEquals(Integer.valueOf(code), a.grpcStatus(), a.toString() + " " + a.grpcMessage());
    }

    static <T> List<T> messages(Answer a, com.google.protobuf.Parser<T> parser) throws Exception {
        List<T> out = new ArrayList<>();
        Buffer b = a.body();
        int at = 0;
        while (at < b.length()) {
            int len = b.getInt(at + 1);
            out.add(parser.parseFrom(b.getBytes(at + 5, at + 5 + len)));
            at += 5 + len;
        }
        return out;
    }

    /** Text jobs refused from their wire bytes before decoding ({@code PromptScan}), as {@code /metrics} counts. */
    long refusedUnread() throws Exception {
        return counter("tessera:gateway_prompts_refused_unread_total");
    }

    /** Of those, the ones refused from a Generate call's first bytes ({@code FirstBytesGuard}). */
    long refusedAtFirstBytes() throws Exception {
        return counter("tessera:gateway_prompts_refused_at_first_bytes_total");
    }

    long counter(String name) throws Exception {
        String metrics = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        for (String line : metrics.split("\n")) {
            if (line.startsWith(name + " ")) {
                return (long) Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
            }
        }
        throw new AssertionError("no " + name + " in " + metrics);
    }

    /** A {@code GenerateRequest} for {@code tiny} whose prompt field holds {@code prompt}, UTF-8 or not. */
    static byte[] rawPrompt(byte[] prompt) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CodedOutputStream w = CodedOutputStream.newInstance(out);
        w.writeString(GenerateRequest.MODEL_FIELD_NUMBER, "tiny");
        w.writeByteArray(GenerateRequest.PROMPT_FIELD_NUMBER, prompt);
        w.flush();
        return out.toByteArray();
    }

    @Test
    void row1HugePromptIsRefusedFromItsBytesBeforeDecoding() throws Exception {
        long before = refusedUnread();
        long early = refusedAtFirstBytes();
        String context = "the model's context length is " + server.server.scheduler().models().get(0).maxModelLen();
        besideCanary(() -> {
            Answer a = raw.call(GENERATE, grpcHeaders(), generate(greedy("a".repeat(4_000_000), 4)));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("prompt: 4000000 bytes of text exceed the limit of"),
                    a.grpcMessage());
            assertTrue(a.grpcMessage().contains(context), a.grpcMessage());
        }, () -> {
            // Never decoded: 4 MB that are not UTF-8 get the same refusal, not the decoder's "invalid UTF-8"
            // (row 2 shows that a short one gets the decoder's).
            byte[] notUtf8 = new byte[4_000_000];
            java.util.Arrays.fill(notUtf8, (byte) 0xff);
            Answer a = raw.call(GENERATE, grpcHeaders(), frame(false, rawPrompt(notUtf8)));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("prompt: 4000000 bytes of text exceed the limit of"),
                    a.grpcMessage());
        }, () -> {
            // A chat: the sum of its messages' text, naming the message that passes the bound.
            GenerateRequest chat = GenerateRequest.newBuilder().setModel("tiny")
                    .addMessages(ChatMessage.newBuilder().setRole("system").addContent(ContentPart.newBuilder()
                            .setText("s".repeat(10))))
                    .addMessages(ChatMessage.newBuilder().setRole("user").addContent(ContentPart.newBuilder()
                            .setText("u".repeat(4_000_000)))).build();
            Answer a = raw.call(GENERATE, grpcHeaders(), generate(chat));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("messages[1].content: 4000010 bytes of text exceed the limit"),
                    a.grpcMessage());
        });
        assertEquals(before + 3, refusedUnread(), "refused from the wire bytes: never decoded or tokenized");
        // the two prompts (model, then prompt) from their first bytes, before the rest of the 4 MB was buffered; the
        // chat from its whole message
        assertEquals(early + 2, refusedAtFirstBytes());
    }

    @Test
    void row1AHugePromptBeforeItsModelIsRefusedFromItsFirstBytesWhenNoModelCouldTakeIt() throws Exception {
        long before = refusedUnread();
        long early = refusedAtFirstBytes();
        // What every client writes for the default model: no model field, the prompt first.
        GenerateRequest forDefault = GenerateRequest.newBuilder().setPrompt("a".repeat(4_000_000))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(4)).build();
        // A hand-made order: the prompt, then the model. The model could only name a text model whose bound the
        // prompt is over too (tiny is the only one), so the first bytes decide.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CodedOutputStream w = CodedOutputStream.newInstance(out);
        w.writeString(GenerateRequest.PROMPT_FIELD_NUMBER, "a".repeat(4_000_000)); // field 2 before field 1
        w.writeString(GenerateRequest.MODEL_FIELD_NUMBER, "tiny");
        w.flush();
        besideCanary(() -> {
            Answer a = raw.call(GENERATE, grpcHeaders(), generate(forDefault));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("prompt: 4000000 bytes of text exceed the limit of"),
                    a.grpcMessage());
        }, () -> {
            Answer a = raw.call(GENERATE, grpcHeaders(), frame(false, out.toByteArray()));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("prompt: 4000000 bytes of text exceed the limit of"),
                    a.grpcMessage());
        });
        assertEquals(before + 2, refusedUnread());
        assertEquals(early + 2, refusedAtFirstBytes(), "both from their first bytes");
    }

    @Test
    void row1ARefusedGenerateStopsItsClientWithinHttp2sFirstWindow() throws Exception {
        // A stream may carry HTTP/2's 64 KiB until the gateway opens it (a Generate once its first bytes pass); a
        // refused one is reset (NO_ERROR) after its status, so the client sends no more of its 4 MB.
        assertEquals(65_535, raw.serverSettings().getInitialWindowSize());
        Buffer message = generate(greedy("a".repeat(4_000_000), 4));
        List<Buffer> pieces = new ArrayList<>();
        for (int at = 0; at < message.length(); at += 16 << 10) {
            pieces.add(message.slice(at, Math.min(message.length(), at + (16 << 10))));
        }
        long early = refusedAtFirstBytes();
        besideCanary(() -> {
            RawH2.Sent sent = raw.callCountingWrites(GENERATE, grpcHeaders(), pieces);
            assertStatus(3, sent.answer());
            assertTrue(sent.answer().grpcMessage().startsWith("prompt: 4000000 bytes of text exceed the limit of"),
                    sent.answer().grpcMessage());
            assertEquals(Long.valueOf(0), sent.resetCode(), "reset with NO_ERROR after the status");
            assertTrue(sent.bytesWritten() <= 64 << 10, "at most the first window was sent: " + sent.bytesWritten());
        });
        assertEquals(early + 1, refusedAtFirstBytes());
    }

    @Test
    void row1HugePromptOnASessionIsRefusedFromItsFirstBytesAndTheSessionGoesOn() throws Exception {
        long before = refusedUnread();
        long early = refusedAtFirstBytes();
        besideCanary(() -> {
            // The 4 MB message is refused from its first bytes and the rest of it dropped as it arrives; the small
            // one after it is read as usual, and the half-close after both.
            Buffer body = frame(false, SessionRequest.newBuilder().setRequestId("huge")
                    .setGenerate(greedy("a".repeat(4_000_000), 4)).build().toByteArray())
                    .appendBuffer(frame(false, SessionRequest.newBuilder().setRequestId("small")
                            .setGenerate(greedy("hi", 2)).build().toByteArray()));
            Answer a = raw.call(SESSION, grpcHeaders(), body);
            assertStatus(0, a);
            List<SessionResponse> answers = messages(a, SessionResponse.parser());
            SessionResponse huge = answers.stream().filter(r -> r.getRequestId().equals("huge")).findFirst()
                    .orElseThrow();
            assertEquals(3, huge.getError().getCode(), huge.toString());
            assertTrue(huge.getError().getMessage().startsWith("prompt: 4000000 bytes of text exceed the limit of"),
                    huge.toString());
            assertTrue(answers.stream().anyMatch(r -> r.getRequestId().equals("small") && r.hasFinished()),
                    answers.toString());
        });
        assertEquals(before + 1, refusedUnread(), "refused from the wire bytes: never decoded or tokenized");
        assertEquals(early + 1, refusedAtFirstBytes());
    }

    @Test
    void row1AnEarlyRefusalOnASessionIsAnsweredAfterTheMessagesBeforeIt() throws Exception {
        // "dup" starts a job in a message large enough to be decoded off the event loop (an unknown field of 80 KB,
        // which the parser skips); the next message reuses its request_id with a 4 MB prompt. Its first bytes are
        // refused while the first message is still being decoded, but the answer waits for it: the id is then in
        // use, so the answer is the one the whole-message check gives (the request_id), not the prompt's.
        ByteArrayOutputStream first = new ByteArrayOutputStream();
        first.writeBytes(SessionRequest.newBuilder().setRequestId("dup").setGenerate(greedy("hi", 64)).build()
                .toByteArray());
        CodedOutputStream w = CodedOutputStream.newInstance(first);
        w.writeByteArray(1000, new byte[80 << 10]);
        w.flush();
        long early = refusedAtFirstBytes();
        Buffer body = frame(false, first.toByteArray()).appendBuffer(frame(false, SessionRequest.newBuilder()
                .setRequestId("dup").setGenerate(greedy("a".repeat(4_000_000), 4)).build().toByteArray()));
        Answer a = raw.call(SESSION, grpcHeaders(), body);
        assertStatus(0, a);
        List<SessionResponse> answers = messages(a, SessionResponse.parser());
        List<SessionResponse> errors = answers.stream().filter(SessionResponse::hasError).toList();
        assertEquals(1, errors.size(), answers.toString());
        assertEquals("request_id: 'dup' is already used by a live job", errors.get(0).getError().getMessage());
        assertTrue(answers.stream().anyMatch(r -> r.getRequestId().equals("dup") && r.hasFinished()),
                answers.toString());
        assertEquals(early + 1, refusedAtFirstBytes(), "refused from its first bytes");
    }

    @Test
    void aMessageCutAcrossDataFramesAnywhereIsAnsweredAsIfSentWhole() throws Exception {
        // The first-bytes guard holds a message's first bytes (up to 16 KiB) until it can decide, then hands them on
        // with the rest. However the client's DATA frames cut a message (inside its 5-byte frame header, just after
        // it, at or past the held bytes), the answer is the one it gets in one piece.
        ByteArrayOutputStream big = new ByteArrayOutputStream();
        big.writeBytes(exact("Cut past the held bytes", 5).toByteArray());
        CodedOutputStream w = CodedOutputStream.newInstance(big);
        w.writeByteArray(1000, new byte[40 << 10]); // an unknown field, which the parser skips: 40 KB past the head
        w.flush();
        int[][] cuts = {{1}, {4}, {5}, {6}, {2, 3}, {5, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {16 << 10}, {(16 << 10) + 5},
            {(16 << 10) - 1, 16 << 10}, {7 << 10, 14 << 10, 21 << 10, 28 << 10}};
        for (byte[] message : List.of(exact("Cut anywhere, read whole", 5).toByteArray(), big.toByteArray())) {
            Buffer whole = frame(false, message);
            Answer once = raw.call(GENERATE, grpcHeaders(), whole);
            assertStatus(0, once);
            List<Integer> expected = tokens(messages(once, GenerateResponse.parser()));
            assertEquals(5, expected.size(), once.toString());
            for (int[] at : cuts) {
                if (at[at.length - 1] >= whole.length()) continue;
                Answer a = raw.callInPieces(GENERATE, grpcHeaders(), cut(whole, at));
                assertStatus(0, a);
                assertEquals(expected, tokens(messages(a, GenerateResponse.parser())),
                        "cut at " + java.util.Arrays.toString(at) + " of " + whole.length());
            }
        }
        // A Session's two messages in 3-byte pieces: both frame headers and the boundary between them are cut.
        Buffer two = frame(false, SessionRequest.newBuilder().setRequestId("a").setGenerate(exact("First", 3)).build()
                .toByteArray()).appendBuffer(frame(false, SessionRequest.newBuilder().setRequestId("b")
                .setGenerate(exact("Second", 3)).build().toByteArray()));
        Answer once = raw.call(SESSION, grpcHeaders(), two);
        assertStatus(0, once);
        List<Buffer> pieces = new ArrayList<>();
        for (int at = 0; at < two.length(); at += 3) pieces.add(two.slice(at, Math.min(two.length(), at + 3)));
        Answer a = raw.callInPieces(SESSION, grpcHeaders(), pieces);
        assertStatus(0, a);
        for (String id : List.of("a", "b")) {
            List<Integer> expected = sessionTokens(messages(once, SessionResponse.parser()), id);
            assertEquals(3, expected.size(), once.toString());
            assertEquals(expected, sessionTokens(messages(a, SessionResponse.parser()), id), id);
        }
    }

    /** A greedy request for exactly {@code tokens} tokens (the end-of-sequence token does not stop it). */
    static GenerateRequest exact(String prompt, int tokens) {
        return GenerateRequest.newBuilder().setModel("tiny").setPrompt(prompt).setSampling(SamplingParams.newBuilder()
                .setTemperature(0).setMaxTokens(tokens).setIgnoreEos(true)).build();
    }

    /** {@code whole} cut at each of the offsets {@code at} (ascending). */
    static List<Buffer> cut(Buffer whole, int[] at) {
        List<Buffer> pieces = new ArrayList<>();
        int from = 0;
        for (int to : at) {
            pieces.add(whole.slice(from, to));
            from = to;
        }
        pieces.add(whole.slice(from, whole.length()));
        return pieces;
    }

    static List<Integer> tokens(List<GenerateResponse> answers) {
        List<Integer> ids = new ArrayList<>();
        for (GenerateResponse r : answers) if (r.hasDelta()) ids.addAll(r.getDelta().getTokenIdsList());
        return ids;
    }

    static List<Integer> sessionTokens(List<SessionResponse> answers, String requestId) {
        List<Integer> ids = new ArrayList<>();
        for (SessionResponse r : answers) {
            if (r.getRequestId().equals(requestId) && r.hasDelta()) ids.addAll(r.getDelta().getTokenIdsList());
        }
        return ids;
    }

    @Test
    void row2MalformedProtobufIsInvalidArgumentWithADescription() throws Exception {
        List<Hostile> cases = new ArrayList<>();
        for (byte[] bad : MALFORMED) {
            cases.add(() -> {
                Answer a = raw.call(GENERATE, grpcHeaders(), frame(false, bad));
                assertStatus(3, a);
                assertTrue(a.grpcMessage().contains("malformed GenerateRequest"), a.grpcMessage());
            });
            cases.add(() -> {
                Answer a = raw.call(LIST_MODELS, grpcHeaders(), frame(false, bad));
                assertStatus(3, a);
                assertTrue(a.grpcMessage().contains("malformed ListModelsRequest"), a.grpcMessage());
            });
            cases.add(() -> {
                // One bad message on a Session is that message's error; the stream goes on and ends OK.
                Answer a = raw.call(SESSION, grpcHeaders(), frame(false, bad));
                assertStatus(0, a);
                List<SessionResponse> got = messages(a, SessionResponse.parser());
                assertEquals(1, got.size(), got.toString());
                assertEquals(3, got.get(0).getError().getCode());
                assertTrue(got.get(0).getError().getMessage().contains("malformed SessionRequest"), got.toString());
            });
        }
        cases.add(() -> {
            Answer a = raw.call(GENERATE, grpcHeaders(), frame(false, BAD_UTF8_PROMPT));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().contains("UTF-8"), a.grpcMessage());
        });
        besideCanary(cases.toArray(Hostile[]::new));
    }

    @Test
    void row3CompressedFlagWithoutEncodingIsInternalAtOnce() throws Exception {
        besideCanary(() -> {
            // The request stream stays open: the answer must not wait for the client's end.
            Answer a = raw.callOpen(GENERATE, grpcHeaders(), frame(true, greedy("hi", 4).toByteArray()));
            assertStatus(13, a);
            assertTrue(a.grpcMessage().contains("compressed flag"), a.grpcMessage());
        });
        // The call is counted out on the event loop once its status is written: wait for it, do not race it.
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
        while (server.server.gateway().activeCalls() != 0) {
            assertTrue(System.nanoTime() < deadline, "the call is still counted: "
                    + server.server.gateway().activeCalls());
            Thread.onSpinWait();
        }
    }

    @Test
    void row4GzipThatIsNotGzipIsInternal() throws Exception {
        besideCanary(() -> {
            Answer a = raw.call(GENERATE, grpcHeaders("grpc-encoding", "gzip"),
                    frame(true, greedy("hi", 4).toByteArray()));
            assertStatus(13, a);
            assertTrue(a.grpcMessage().contains("gzip"), a.grpcMessage());
        }, () -> {
            // A real gzip message is served.
            Answer a = raw.call(GENERATE, grpcHeaders("grpc-encoding", "gzip"),
                    frame(true, RawH2.gzip(greedy("hi", 4).toByteArray())));
            assertStatus(0, a);
            int tokens = 0;
            for (GenerateResponse r : messages(a, GenerateResponse.parser())) {
                tokens += r.getDelta().getTokenIdsCount();
            }
            assertEquals(4, tokens);
        });
    }

    @Test
    void row5UnsupportedEncodingIsUnimplementedNamingIt() throws Exception {
        besideCanary(() -> {
            Answer a = raw.call(GENERATE, grpcHeaders("grpc-encoding", "snappy"),
                    frame(true, greedy("hi", 4).toByteArray()));
            assertStatus(12, a);
            assertTrue(a.grpcMessage().contains("snappy"), a.grpcMessage());
            assertNotNull(a.header("grpc-accept-encoding"), a.toString());
            assertTrue(a.header("grpc-accept-encoding").contains("gzip"), a.toString());
        });
    }

    @Test
    void row6HugeUnknownModelIsNotFoundWithABoundedEcho() throws Exception {
        besideCanary(() -> {
            GenerateRequest r = greedy("hi", 4).toBuilder().setModel("m".repeat(100_000)).build();
            Answer a = raw.call(GENERATE, grpcHeaders(), generate(r));
            assertStatus(5, a);
            assertTrue(a.grpcMessage().length() < 1024, "echo bounded: " + a.grpcMessage().length() + " chars");
        });
    }

    @Test
    void row10TwoMessagesOnServerStreamingGenerateIsAnError() throws Exception {
        besideCanary(() -> {
            Buffer two = generate(greedy("one", 4)).appendBuffer(generate(greedy("two", 4)));
            Answer a = raw.call(GENERATE, grpcHeaders(), two);
            assertStatus(3, a);
            assertTrue(a.grpcMessage().contains("second"), a.grpcMessage());
        });
    }

    @Test
    void row11GrpcPathWithoutGrpcContentTypeIs415() throws Exception {
        besideCanary(() -> {
            Answer a = raw.call(GENERATE, grpcHeaders("content-type", "application/json"), Buffer.buffer("{}"));
            assertEquals(415, a.httpStatus(), a.toString());
        }, () -> {
            Answer a = raw.call(GENERATE, grpcHeaders("content-type", null), generate(greedy("hi", 4)));
            assertEquals(415, a.httpStatus(), a.toString());
        });
    }

    @Test
    void row12StopLimitsAreInvalidArgument() throws Exception {
        besideCanary(() -> {
            GenerateRequest r = greedy("hi", 4).toBuilder().setSampling(SamplingParams.newBuilder()
                    .setMaxTokens(4).addStop("s".repeat(1 << 20))).build();
            Answer a = raw.call(GENERATE, grpcHeaders(), generate(r));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("sampling.stop: string 0 has 1048576 characters"), a.grpcMessage());
        }, () -> {
            SamplingParams.Builder sampling = SamplingParams.newBuilder().setMaxTokens(4);
            for (int i = 0; i < 102_400; i++) sampling.addStopTokenIds(i % 100);
            Answer a = raw.call(GENERATE, grpcHeaders(), generate(greedy("hi", 4).toBuilder()
                    .setSampling(sampling).build()));
            assertStatus(3, a);
            assertTrue(a.grpcMessage().startsWith("sampling.stop_token_ids: 102400 ids"), a.grpcMessage());
        });
    }

    @Test
    void casesAlreadyHandledStayHandled() throws Exception {
        besideCanary(() -> {
            // A message over the limit: RESOURCE_EXHAUSTED, its bytes skipped unread.
            byte[] big = new byte[MAX_MESSAGE + 1];
            Answer a = raw.call(GENERATE, grpcHeaders(), frame(false, big));
            assertStatus(8, a);
        }, () -> assertStatus(12, raw.call("/tessera.v1.Inference/NoSuchMethod", grpcHeaders(),
                generate(greedy("hi", 4)))),
            () -> assertStatus(3, raw.call(GENERATE, grpcHeaders(), Buffer.buffer())),
            () -> {
                Answer a = raw.call(GENERATE, grpcHeaders(), generate(greedy("hi", 4).toBuilder()
                        .setSampling(SamplingParams.newBuilder().setTopP(7)).build()));
                assertStatus(3, a);
                assertTrue(a.grpcMessage().startsWith("sampling.top_p"), a.grpcMessage());
            },
            () -> {
                // Truncated frame header, then the end of the stream.
                Answer a = raw.call(GENERATE, grpcHeaders(), Buffer.buffer(new byte[] {0, 0, 0}));
                assertStatus(3, a);
            },
            () -> {
                // A client's own value of the gateway's internal guard header is removed: the call runs as usual.
                Answer a = raw.call(GENERATE, grpcHeaders("x-tessera-first-bytes-guard", "1"),
                        generate(greedy("hi", 4)));
                assertStatus(0, a);
                assertEquals(4, messages(a, GenerateResponse.parser()).stream().filter(GenerateResponse::hasDelta)
                        .count());
            });
    }
}
