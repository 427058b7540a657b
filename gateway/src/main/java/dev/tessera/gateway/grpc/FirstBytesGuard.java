package dev.tessera.gateway.grpc;

import dev.tessera.gateway.edge.MeteredRequest;
import dev.tessera.gateway.edge.StreamWindow;
import dev.tessera.gateway.session.PromptCheck;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.internal.http.HttpServerRequestInternal;
import io.vertx.core.internal.http.HttpServerRequestWrapper;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A {@code Generate} or {@code Session} call's HTTP/2 request as the gRPC server reads it, with each message's first
 * bytes looked at before the gRPC server buffers the message: a prompt over its model's byte bound is refused from
 * its length prefix ({@link PromptScan#firstBytes}, {@link PromptScan#firstSessionBytes}), and the rest of that
 * message, up to megabytes, is dropped as it arrives instead of being gathered into one buffer.
 *
 * <p>Why: vertx-grpc gathers a whole message before it hands it on, in a heap buffer that grows by doubling, so a
 * 4 MB prompt cost about 11.5 ms of its event loop's CPU and a few humongous allocations before the gateway could
 * refuse it from its bytes. Here the request's bytes are followed frame by frame (the gRPC 5-byte frame headers):
 * the first bytes of each message (at most {@link #MAX_HEAD}) are held until the scan decides; a pass hands them on,
 * in order, with the rest of the message; a refusal drops the message, so the gRPC server never sees it. A
 * {@code Generate} call has one message (only the first is looked at; a refusal ends the call and drops everything
 * after it); a {@code Session} has many, each looked at.
 *
 * <p>A refused {@code Generate} is reset (RST_STREAM NO_ERROR, which RFC 9113 8.1 allows after a complete
 * response) so that its client stops sending the rest ({@link #stopTheSender}), and its stream's window was not
 * opened before its first bytes were looked at ({@link StreamWindow}): grpc-java sends no more than HTTP/2's first
 * 64 KiB of a refused 4 MB prompt, where with an open 1 MiB window it had sent about 1 MB before the refusal reached
 * it, and without the reset all 4 MB, read and dropped. (A closed loop of refused 4 MB prompts on one paced
 * connection, {@code Generate} and {@code Session} in turn: bytes read a prompt fell from 3.96-3.99 MB to
 * 2.04-2.05, the {@code Session} half still read whole, and the server's event loop time a prompt from 4.1-4.3 ms
 * to 2.7-3.3.) Stop 18 had tried the
 * reset and taken it out again: grpc-java answers each such reset with one of its own, which counts against the
 * rapid-reset guard (Vert.x's default then, 200 in 30 s, closed the client's connection with GOAWAY
 * ENHANCE_YOUR_CALM: 66 for 750 refused 4 MB prompts on one connection), and Netty logged each frame that was
 * still on its way (30,898 lines). Now the guard allows 2,000 in 10 s, a refused message is charged to its
 * connection's upload budget at its length (below), so a connection is reset at most its upload rate divided by
 * {@link #RESET_AT} times a second, and the jar logs Netty's HTTP/2 decoder at WARN.
 *
 * <p>A refused message is charged to its connection's upload budget ({@link MeteredRequest}) at the length its
 * frame header announced, the part not yet read at once: the client stops sending it once the refusal arrives, so
 * without that a client whose prompts are refused sent them faster, the sooner the refusal: a closed loop of 4 MB
 * prompts on a fresh connection was refused 22-27 times a second with about 1 MB of each read, against 8 a second
 * read whole on a long-lived one ({@code bench overload}, {@code stall}); each costs the server its reading and its
 * response, and the client its 4 MB message. Charged at its length, a refused message costs its connection as much
 * budget as one that was read; and a request that comes while its connection is in debt is not read until it has
 * refilled ({@code PacedRequest}), so a refusal, which needs only the first bytes, comes no sooner than that either.
 *
 * <p>The refusal goes through the call ({@link Refusable}), which answers it as any other refusal, after the
 * messages handed on before it (a {@code Session} keeps its messages' order); the call finds its guard by a request
 * header the gateway sets ({@link #HEADER}; a client's own value is removed). One per request, on the request's
 * event loop.
 */
final class FirstBytesGuard extends HttpServerRequestWrapper {
    /** Set by the gateway on a guarded request: the guard's id in {@link InferenceService}. */
    static final String HEADER = "x-tessera-first-bytes-guard";
    /** Bytes of a message (its frame header included) held, at most, before the guard lets it through. */
    static final int MAX_HEAD = 16 << 10;
    private static final int FRAME_HEADER = 5;
    /** Bytes of a refused {@code Generate} message still to come from which its stream is reset. */
    static final long RESET_AT = 1 << 20;

    /** A call that its guard may refuse a message of. */
    interface Refusable {
        /** {@code refusal} is for the message after the first {@code messagesBefore} messages handed on. */
        void refuseAtFirstBytes(PromptScan.Refusal refusal, int messagesBefore);
    }

    private enum Mode {
        /** Gathering a message's first bytes. */
        HEAD,
        /** Handing on the rest of a message let through. */
        PASS,
        /** Dropping the rest of a refused message. */
        SKIP,
        /** Handing on everything from here (a Generate call's messages after its first). */
        PASS_ALL,
        /** Dropping everything from here (a refused Generate call). */
        DROP_ALL
    }

    private final InferenceService owner;
    private final String id;
    private final boolean session;
    /** The current message's first bytes; grown to its frame (at most {@link #MAX_HEAD}) as they come. */
    private byte[] head = new byte[64];
    private final List<Buffer> held = new ArrayList<>(2);
    private int headLen;
    /** The current message's frame length, header included; -1 until its header is read. */
    private long frameLen = -1;
    /** Bytes of the current message still to hand on or drop. */
    private long remaining;
    private Mode mode = Mode.HEAD;
    /** Messages handed on so far. */
    private int handedOn;
    private @Nullable Handler<Buffer> data;
    private @Nullable Refusable call;

    private FirstBytesGuard(HttpServerRequestInternal delegate, InferenceService owner, String id, boolean session) {
        super(delegate);
        this.owner = owner;
        this.id = id;
        this.session = session;
    }

    /**
     * The request as the gRPC server should read it: guarded when it is a protobuf {@code Generate} or
     * {@code Session} call, else as it is. Removes any client-supplied {@link #HEADER} either way.
     */
    static HttpServerRequest guard(HttpServerRequest request, InferenceService owner) {
        request.headers().remove(HEADER);
        String type = request.getHeader("content-type");
        boolean protobuf = type != null && (type.equals("application/grpc") || type.startsWith("application/grpc;")
                || type.startsWith("application/grpc+proto"));
        String path = request.path();
        boolean generate = InferenceService.GENERATE_PATH.equals(path);
        // every stream's window opens now but a guarded Generate's, which opens once its first bytes pass
        boolean guardedGenerate = protobuf && generate && request instanceof HttpServerRequestInternal;
        if (!guardedGenerate) StreamWindow.open(request);
        if (!protobuf || !(request instanceof HttpServerRequestInternal internal) || path == null) return request;
        boolean session = path.equals(InferenceService.SESSION_PATH);
        if (!session && !generate) return request;
        String id = owner.newGuardId();
        FirstBytesGuard guard = new FirstBytesGuard(internal, owner, id, session);
        request.headers().set(HEADER, id);
        owner.registerGuard(id, guard);
        return guard;
    }

    /** The call reading this request, once admitted; only an attached call is refused early. */
    void attach(Refusable admitted) {
        this.call = admitted;
        forget(); // looked up once, when the call is admitted
    }

    @Override
    public HttpServerRequest handler(@Nullable Handler<Buffer> handler) {
        data = handler;
        delegate.handler(handler == null ? null : this::chunk);
        return this;
    }

    @Override
    public HttpServerRequest endHandler(@Nullable Handler<Void> handler) {
        delegate.endHandler(handler == null ? null : v -> {
            forget();
            // a message cut short by the end: handed on as it came, for the gRPC server to answer
            if (mode == Mode.HEAD) handOnHeld();
            handler.handle(v);
        });
        return this;
    }

    @Override
    public HttpServerRequest exceptionHandler(@Nullable Handler<Throwable> handler) {
        delegate.exceptionHandler(handler == null ? null : t -> {
            forget();
            handler.handle(t);
        });
        return this;
    }

    private void chunk(Buffer chunk) {
        int pos = 0;
        int len = chunk.length();
        while (pos < len) {
            switch (mode) {
                case DROP_ALL -> {
                    return;
                }
                case PASS_ALL -> {
                    deliver(pos == 0 ? chunk : chunk.slice(pos, len));
                    return;
                }
                case PASS, SKIP -> {
                    int n = (int) Math.min(remaining, len - pos);
                    if (mode == Mode.PASS) deliver(pos == 0 && n == len ? chunk : chunk.slice(pos, pos + n));
                    pos += n;
                    remaining -= n;
                    if (remaining == 0) nextMessage();
                }
                case HEAD -> pos = gather(chunk, pos, len);
            }
        }
    }

    /** Takes the current message's next bytes from {@code chunk} at {@code pos}, deciding once it can. */
    private int gather(Buffer chunk, int pos, int len) {
        long want = frameLen < 0 ? FRAME_HEADER - headLen : Math.min(MAX_HEAD, frameLen) - headLen;
        int n = (int) Math.min(want, len - pos);
        if (headLen + n > head.length) head = Arrays.copyOf(head, (int) Math.min(MAX_HEAD, Math.max(frameLen,
                2L * head.length)));
        chunk.getBytes(pos, pos + n, head, headLen);
        held.add(chunk.slice(pos, pos + n));
        headLen += n;
        pos += n;
        if (headLen < FRAME_HEADER) return pos;
        if (frameLen < 0) frameLen = FRAME_HEADER + PromptScan.messageLength(head);
        PromptScan.Early early;
        if (frameLen - FRAME_HEADER > owner.options().maxMessageBytes()) {
            // over the size limit: the gRPC server's RESOURCE_EXHAUSTED, whatever the message holds
            early = PromptScan.Early.PASS;
        } else if (session) {
            early = PromptScan.firstSessionBytes(head, headLen, this::bound, this::largestBound);
        } else {
            early = PromptScan.firstBytes(head, headLen, this::bound, this::largestBound);
        }
        if (!early.decided() && headLen < MAX_HEAD && headLen < frameLen) return pos;
        remaining = frameLen - headLen;
        Refusable c = call;
        PromptScan.Refusal refusal = early.refusal();
        if (refusal != null && c != null) {
            held.clear();
            mode = session ? Mode.SKIP : Mode.DROP_ALL;
            // the rest of the message, beyond this chunk, is charged to the connection's upload budget now
            long unread = remaining - Math.min(remaining, len - pos);
            MeteredRequest metered = delegate instanceof MeteredRequest m ? m : null;
            if (metered != null) metered.chargeAhead(unread);
            c.refuseAtFirstBytes(refusal, handedOn);
            if (!session && metered != null) stopTheSender(unread);
        } else {
            // a Generate's one message, let through: the rest of it may come in the open window (a message held
            // whole already needs none, and its client is spared the WINDOW_UPDATE)
            if (!session && handedOn == 0 && remaining > 0) StreamWindow.open(delegate);
            handOnHeld();
            handedOn++;
            mode = Mode.PASS;
        }
        if (remaining == 0 && mode != Mode.DROP_ALL) nextMessage();
        return pos;
    }

    private dev.tessera.scheduler.core.@Nullable PromptBytes bound(String model) {
        return PromptCheck.bound(owner.service(), model);
    }

    /**
     * After a refused {@code Generate} call's status, asks its client to stop sending the rest of the message with
     * RST_STREAM(NO_ERROR), as RFC 9113 (8.1) lets a server that has sent a complete response: grpc-java then stops
     * at once, and whatever its stream's window had let out ({@link StreamWindow#INITIAL} at most) is dropped by the
     * HTTP/2 codec unread. Called only on a paced connection, and resets only when at least {@link #RESET_AT} bytes
     * are still to come: grpc-java answers each reset with one of its own, which counts against the rapid-reset
     * guard, and a message charged at its announced length ({@link MeteredRequest}) lets a connection be reset at
     * most its upload rate divided by {@link #RESET_AT} times a second (32 at the default rate, against the guard's
     * 200).
     */
    private void stopTheSender(long unread) {
        if (unread < RESET_AT) return;
        HttpServerResponse response = delegate.response();
        if (response.ended()) response.reset(0);
    }

    private long largestBound() {
        return PromptCheck.largestBound(owner.service());
    }

    private void nextMessage() {
        headLen = 0;
        frameLen = -1;
        remaining = 0;
        mode = session ? Mode.HEAD : Mode.PASS_ALL;
    }

    /**
     * Hands the held first bytes on as one buffer. vertx-grpc keeps the first buffer of a message it has not
     * wholly received and appends the next ones to it; a slice cannot grow, so each append to one threw an
     * {@code IndexOutOfBoundsException} (with its stack trace) that vertx-grpc caught before copying: one per
     * request here, where a message's 5-byte frame header and its body were held as two slices (about 5% of the
     * event loops' CPU under overload, in a profile). A message wholly held in one slice goes on as it is; otherwise
     * the held bytes are copied (at most {@link #MAX_HEAD}) into a buffer that grows.
     */
    private void handOnHeld() {
        if (held.size() == 1 && remaining == 0) {
            deliver(held.get(0));
        } else if (!held.isEmpty()) {
            int total = 0;
            for (Buffer b : held) total += b.length();
            Buffer whole = Buffer.buffer(total);
            for (Buffer b : held) whole.appendBuffer(b);
            deliver(whole);
        }
        held.clear();
    }

    private void deliver(Buffer chunk) {
        Handler<Buffer> d = data;
        if (d != null) d.handle(chunk);
    }

    private void forget() {
        owner.forgetGuard(id);
    }
}
