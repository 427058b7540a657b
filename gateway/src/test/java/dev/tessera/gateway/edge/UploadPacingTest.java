package dev.tessera.gateway.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.Http2Settings;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.internal.http.HttpServerRequestInternal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Uploads paced per connection over real HTTP/2 (h2c) connections, on a clock and timers the test moves: a
 * connection past its burst is held (its body stops reaching the reader, its client stopped by flow control), another
 * connection is not, and once the bucket refills the held body arrives whole and unchanged.
 */
class UploadPacingTest {
    private static final int KIB = 1 << 10;
    private static final int MIB = 1 << 20;

    private final AtomicLong now = new AtomicLong();
    /** Resumes the pacing asked for, each to run on the event loop that asked. */
    private final List<Runnable> due = new ArrayList<>();
    private final Map<String, AtomicLong> received = new ConcurrentHashMap<>();
    private Vertx vertx;
    private HttpServer server;
    private UploadPacing pacing;
    private final List<HttpClient> clients = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        vertx = Vertx.vertx();
    }

    @AfterEach
    void stop() throws Exception {
        for (HttpClient c : clients) c.close().await(10, TimeUnit.SECONDS);
        if (vertx != null) vertx.close().await(10, TimeUnit.SECONDS);
    }

    /** A server whose requests are paced, counted and checksummed; {@code hook} sees each chunk's running total. */
    private void serve(UploadRate rate, ReaderHook hook) throws Exception {
        pacing = new UploadPacing(rate, now::get, (nanos, action) -> {
            Context context = Vertx.currentContext();
            synchronized (due) {
                due.add(() -> context.runOnContext(v -> action.run()));
            }
        });
        // the gateway's windows: 1 MiB a stream, 8 MiB a connection
        server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(0)
                        .setHttp2ClearTextEnabled(true).setInitialSettings(new Http2Settings().setInitialWindowSize(MIB))
                        .setHttp2ConnectionWindowSize(8 * MIB))
                .connectionHandler(pacing::opened)
                .requestHandler(raw -> {
                    HttpServerRequest req = pacing.pace(raw);
                    String path = req.path();
                    AtomicLong count = received.computeIfAbsent(path, p -> new AtomicLong());
                    CRC32 crc = new CRC32();
                    req.handler(chunk -> {
                        crc.update(chunk.getBytes());
                        hook.chunk(req, count.addAndGet(chunk.length()));
                    });
                    req.endHandler(v -> req.response().end(Long.toHexString(crc.getValue())));
                });
        server.listen().await(10, TimeUnit.SECONDS);
    }

    interface ReaderHook {
        void chunk(HttpServerRequest request, long receivedSoFar);
    }

    /** A new connection (its own client), HTTP/2 with prior knowledge. */
    private HttpClient connection() {
        HttpClient c = vertx.createHttpClient(new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_2)
                .setHttp2ClearTextUpgrade(false).setDefaultHost("127.0.0.1").setDefaultPort(server.actualPort())
                .setInitialSettings(new Http2Settings().setInitialWindowSize(MIB)));
        clients.add(c);
        return c;
    }

    private static Future<String> post(HttpClient client, String path, Buffer body) {
        return client.request(HttpMethod.POST, path).compose(r -> r.send(body)).compose(r -> r.body())
                .map(Buffer::toString);
    }

    private static Buffer body(int bytes, long seed) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return Buffer.buffer(b);
    }

    private static String crc(Buffer b) {
        CRC32 crc = new CRC32();
        crc.update(b.getBytes());
        return Long.toHexString(crc.getValue());
    }

    private int dueCount() {
        synchronized (due) {
            return due.size();
        }
    }

    /** Moves the clock on by {@code seconds} and runs the resumes due. */
    private void refill(long seconds) {
        now.addAndGet(TimeUnit.SECONDS.toNanos(seconds));
        List<Runnable> run;
        synchronized (due) {
            run = new ArrayList<>(due);
            due.clear();
        }
        run.forEach(Runnable::run);
    }

    /** Bytes the reader of {@code path} has been handed so far. */
    private long bytes(String path) {
        AtomicLong n = received.get(path);
        return n == null ? 0 : n.get();
    }

    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting for: " + what);
            Thread.sleep(5);
        }
    }

    @Test
    void aConnectionPastItsBurstIsHeldWhileAnotherIsNotAndItsBodyArrivesWholeOnceRefilled() throws Exception {
        serve(new UploadRate(MIB, MIB), (r, n) -> { });
        Buffer big = body(4 * MIB, 1);
        Future<String> held = post(connection(), "/big", big);
        eventually("the big upload is paused", () -> dueCount() > 0);
        long atPause = bytes("/big");
        assertTrue(atPause >= MIB && atPause <= MIB + 64 * KIB,
                "reading stops at the burst (1 MiB), give or take a frame: " + atPause);

        // another connection has its own budget: its upload goes through while the first is held
        Buffer small = body(512 * KIB, 2);
        assertEquals(crc(small), post(connection(), "/small", small).await(30, TimeUnit.SECONDS));
        assertEquals(atPause, bytes("/big"), "the held connection read nothing more meanwhile");
        assertFalse(held.isComplete());
        assertEquals(1, pacing.pauses(), "only the big upload was paused");

        int refills = 0;
        while (!held.isComplete()) {
            eventually("the big upload is paused again or done", () -> dueCount() > 0 || held.isComplete());
            refill(10);
            refills++;
        }
        assertEquals(crc(big), held.await(30, TimeUnit.SECONDS), "the body arrives whole and unchanged");
        assertTrue(refills >= 3, "4 MiB at a 1 MiB burst needs at least 3 refills: " + refills);
        assertTrue(pacing.pauses() >= 3, "paused at least 3 times: " + pacing.pauses());
    }

    @Test
    void bytesChargedAheadAreSpentAtOnceAndNotAgainWhenTheyArrive() throws Exception {
        // at its first chunk, a reader charges ahead the rest of its body ("/ahead") or 4 MiB that never come
        // ("/owed"), as the gRPC first-bytes guard does for a refused message
        int aheadSize = 3 * MIB / 2;
        Map<HttpServerRequest, Boolean> charged = new ConcurrentHashMap<>();
        serve(new UploadRate(MIB, 2 * MIB), (r, n) -> {
            if (charged.putIfAbsent(r, true) != null) return;
            if (r.path().equals("/ahead")) ((MeteredRequest) r).chargeAhead(aheadSize - n);
            if (r.path().equals("/owed")) ((MeteredRequest) r).chargeAhead(4 * MIB);
        });
        HttpClient c = connection();
        Buffer ahead = body(aheadSize, 7);
        Future<String> first = post(c, "/ahead", ahead);
        eventually("the upload is done or paused", () -> first.isComplete() || dueCount() > 0);
        // 1.5 MiB of a 2 MiB burst spent once: charged again as they arrived, they would have put it in debt
        assertEquals(0, pacing.pauses(), "read whole without a pause");
        assertEquals(crc(ahead), first.await(30, TimeUnit.SECONDS));

        // 4 MiB charged ahead on the same connection leave it in debt: that request and the next are held
        Buffer owed = body(64 * KIB, 8);
        Future<String> second = post(c, "/owed", owed);
        eventually("the charged request is paused", () -> pacing.pauses() == 1);
        Buffer next = body(512 * KIB, 9);
        Future<String> third = post(c, "/next", next);
        eventually("the next request is paused too", () -> pacing.pauses() == 2);
        // it came while its connection was in debt: none of its body is read before a refill (a guard looking at
        // its first bytes would otherwise refuse it at once, however deep the debt)
        assertEquals(0, bytes("/next"), "held before its first byte was read");
        while (!second.isComplete() || !third.isComplete()) {
            eventually("paced again or done", () -> dueCount() > 0 || (second.isComplete() && third.isComplete()));
            refill(10);
        }
        assertEquals(crc(owed), second.await(30, TimeUnit.SECONDS));
        assertEquals(crc(next), third.await(30, TimeUnit.SECONDS));
    }

    @Test
    void aReaderThatPausedStaysPausedWhenThePacingLetsGo() throws Exception {
        AtomicReference<HttpServerRequest> pausedByReader =
                new AtomicReference<>();
        AtomicLong atReaderPause = new AtomicLong();
        // a burst of one byte: every chunk read leaves the bucket in debt, so each is followed by a pacing pause
        serve(new UploadRate(MIB, 1), (r, n) -> {
            if (pausedByReader.get() == null && n >= 128 * KIB) {
                atReaderPause.set(n);
                pausedByReader.set(r);
                r.pause();
            }
        });
        Buffer body = body(512 * KIB, 3);
        Future<String> upload = post(connection(), "/paused", body);
        // one chunk per refill until the reader pauses itself; that chunk is followed by a pacing pause too
        while (true) {
            eventually("a pacing pause", () -> dueCount() > 0);
            if (pausedByReader.get() != null) break;
            refill(10);
        }
        for (int i = 0; i < 3; i++) {
            refill(10); // the pacing lets go: the reader's pause must hold
            flush(pausedByReader.get());
        }
        assertEquals(atReaderPause.get(), bytes("/paused"), "nothing read past the reader's own pause");
        assertFalse(upload.isComplete());

        HttpServerRequest request = pausedByReader.get();
        loopOf(request).runOnContext(v -> request.resume());
        while (!upload.isComplete()) {
            eventually("paced again or done", () -> dueCount() > 0 || upload.isComplete());
            refill(10);
        }
        assertEquals(crc(body), upload.await(30, TimeUnit.SECONDS));
    }

    /** The event loop that reads {@code request}. */
    private static Context loopOf(HttpServerRequest request) {
        return ((HttpServerRequestInternal) request).context();
    }

    /** Waits until what {@code request}'s event loop had queued has run. */
    private static void flush(HttpServerRequest request) throws Exception {
        Context loop = loopOf(request);
        for (int i = 0; i < 2; i++) {
            Promise<Void> done = Promise.promise();
            loop.runOnContext(v -> done.complete());
            done.future().await(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aStreamResetWhileHeldIsLetGoWithoutAnError() throws Exception {
        List<Throwable> unhandled = new CopyOnWriteArrayList<>();
        vertx.exceptionHandler(unhandled::add);
        AtomicBoolean reset = new AtomicBoolean();
        serve(new UploadRate(MIB, MIB), (r, n) -> r.exceptionHandler(t -> reset.set(true)));
        HttpClient c = connection();
        HttpClientRequest request = c.request(HttpMethod.POST, "/reset")
                .await(10, TimeUnit.SECONDS).setChunked(true);
        request.write(body(2 * MIB, 5));
        eventually("the upload is paused", () -> dueCount() > 0);
        request.reset();
        eventually("the server sees the reset", reset::get);
        refill(10);
        assertEquals(crc(body(10, 6)), post(c, "/after", body(10, 6)).await(30, TimeUnit.SECONDS),
                "the connection still serves");
        assertEquals(List.of(), unhandled, "letting a reset stream go throws nothing");
    }

    @Test
    void aClosedConnectionGivesItsBudgetBack() throws Exception {
        serve(new UploadRate(MIB, MIB), (r, n) -> { });
        HttpClient c = connection();
        assertEquals(crc(body(1000, 4)), post(c, "/one", body(1000, 4)).await(30, TimeUnit.SECONDS));
        assertEquals(1, pacing.connections());
        c.close().await(10, TimeUnit.SECONDS);
        eventually("the connection's budget is given back", () -> pacing.connections() == 0);
    }
}
