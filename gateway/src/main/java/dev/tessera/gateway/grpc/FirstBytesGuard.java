package dev.tessera.gateway.grpc;

import dev.tessera.gateway.edge.MeteredRequest;
import dev.tessera.gateway.session.PromptCheck;
import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerRequest;
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
 * <p>A refused {@code Generate} is not reset (RST_STREAM NO_ERROR, which RFC 9113 8.1 allows after a complete
 * response, would stop the client sending the rest): grpc-java answers each such reset with one of its own, which
 * counts against the server's rapid-reset guard (at Vert.x's default then, 200 in 30 s, it closed the client's
 * connection with GOAWAY ENHANCE_YOUR_CALM, cutting its other calls; the bound is now 2,000 in 10 s, which a client
 * refused 200 times a second still reaches); and with 1 MiB stream windows about 1 MB of the message is already on
 * its way when the reset arrives, each of its frames logged by Netty as ignored. Tried and measured: 66 GOAWAYs and
 * 30,898 log lines for 750 refused 4 MB prompts on one connection.
 *
 * <p>A refused message is charged to its connection's upload budget ({@link MeteredRequest}) at the length its
 * frame header announced, the part not yet read at once: the client stops sending it once the refusal arrives, so
 * without that a client whose prompts are refused sent them faster, the sooner the refusal: a closed loop of 4 MB
 * prompts on a fresh connection was refused 22-27 times a second with about 1 MB of each read, against 8 a second
 * read whole on a long-lived one ({@code bench overload}, {@code stall}); each costs the server its reading and its
 * response, and the client its 4 MB message. Charged at its length, a refused message costs its connection as much
 * budget as one that was read.
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
        if (!protobuf || !(request instanceof HttpServerRequestInternal internal) || path == null) return request;
        boolean session = path.equals(InferenceService.SESSION_PATH);
        if (!session && !path.equals(InferenceService.GENERATE_PATH)) return request;
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
            if (delegate instanceof MeteredRequest metered) {
                metered.chargeAhead(remaining - Math.min(remaining, len - pos));
            }
            c.refuseAtFirstBytes(refusal, handedOn);
        } else {
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
