package dev.tessera.gateway.ws;

import dev.tessera.api.v1.SessionRequest;
import dev.tessera.gateway.edge.Tenant;
import dev.tessera.gateway.edge.UploadMeter;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.CallException;
import dev.tessera.gateway.session.PromptCheck;
import dev.tessera.gateway.session.SessionJobs;
import dev.tessera.scheduler.JobService;
import io.vertx.core.Context;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.http.WebSocketFrame;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One browser WebSocket: the Session protocol with JSON text messages. Many jobs, told apart by
 * {@code request_id}, share the socket; a failing job (or a message that does not parse) gets a {@code JobError}
 * and the socket and the other jobs go on. Reading pauses while the socket's write queue is full. Closing the
 * socket, from either side, cancels its jobs. While the server drains, new jobs are refused UNAVAILABLE and the
 * socket closes (1001 going away) once its last job is done. Everything runs on the socket's event loop.
 */
final class SocketSession {
    /** Close code: the server is going away (draining or shut down). */
    static final short GOING_AWAY = 1001;
    /** Close code: the client broke the server's policy (here: it did not authenticate). */
    static final short POLICY_VIOLATION = 1008;
    /** Close code: a text message that is not UTF-8 (RFC 6455). */
    static final short INVALID_PAYLOAD = 1007;
    /** Messages of at least this many bytes are decoded off the event loop. */
    static final int OFF_LOOP_BYTES = 64 << 10;

    private static final Logger logger = LoggerFactory.getLogger(SocketSession.class);

    private final WebSocketBridge owner;
    private final ServerWebSocket socket;
    private final SocketOutbound outbound;
    private final int maxMessageBytes;
    private final SessionJobs jobs;
    /** Fragments of a text message split over several frames; null between messages. */
    private @Nullable Buffer fragments;
    private boolean binaryMessage;
    private boolean oversized;
    private long messageBytes;
    private boolean readingPaused;
    /** A large message is being decoded on a worker thread (reading is paused until it is done). */
    private boolean decoding;
    /** The socket's upload budget ({@code --max-upload-rate}); null when uploads are not limited. */
    private final @Nullable UploadMeter uploads;
    private final Runnable pauseReading;
    private final Runnable paceDone = this::paceDone;
    /** The socket uploaded faster than its rate: reading is paused until its budget refills. */
    private boolean paced;
    /** No message has been handled yet. */
    private boolean firstMessage = true;
    private boolean draining;
    private boolean ended;
    /** False until the first message authenticates, when keys are required and the upgrade carried none. */
    private boolean authenticated;
    /** Whose quota the socket's jobs count against; null without API keys. */
    private @Nullable Tenant tenant;

    SocketSession(WebSocketBridge owner, ServerWebSocket socket, Context context, @Nullable Tenant tenant,
                  boolean authenticated, @Nullable UploadMeter uploads) {
        this.owner = owner;
        this.uploads = uploads;
        this.pauseReading = socket::pause;
        this.tenant = tenant;
        this.authenticated = authenticated;
        this.socket = socket;
        this.maxMessageBytes = owner.options().maxMessageBytes();
        this.outbound = new SocketOutbound(socket, owner.options().writeQueueMaxBytes());
        this.jobs = new SessionJobs(context, outbound, outbound::write, owner.options(), this::maybeEnd);
    }

    void start() {
        socket.frameHandler(this::onFrame);
        socket.closeHandler(v -> clientGone("closed"));
        socket.exceptionHandler(t -> {
            logger.debug("WebSocket error, closing it: {}", t.toString());
            if (!ended) {
                outbound.close((short) 1011, "server error on this socket");
                clientGone(t.toString());
            }
        });
    }

    /** Draining: refuse new jobs; close once the live ones are done. */
    void draining() {
        draining = true;
        maybeEnd();
    }

    /** After the grace period: every live job gets {@code error}, then the socket closes. */
    void abort(CallError error) {
        if (ended) {
            return;
        }
        for (String id : jobs.ids()) {
            jobs.sendError(id, error);
        }
        jobs.cancelAll();
        end(GOING_AWAY, error.message());
    }

    // Frames: a message is one text frame, or a text frame and continuations up to the final one.
    private void onFrame(WebSocketFrame frame) {
        if (ended || !(frame.isText() || frame.isBinary() || frame.isContinuation())) {
            return; // ping, pong and close are answered by Vert.x
        }
        if (!frame.isContinuation()) {
            binaryMessage = frame.isBinary();
            oversized = false;
            messageBytes = 0;
            fragments = null;
        }
        Buffer data = frame.binaryData();
        messageBytes += data.length();
        if (uploads != null) paced = uploads.read(data.length(), paced, pauseReading, paceDone);
        if (messageBytes > maxMessageBytes) {
            oversized = true;
            fragments = null;
        } else if (!binaryMessage && !frame.isFinal()) {
            if (fragments == null) {
                fragments = Buffer.buffer();
            }
            fragments.appendBuffer(data);
        }
        if (!frame.isFinal()) {
            return;
        }
        if (oversized) {
            jobs.sendError("", CallError.of(GrpcStatus.RESOURCE_EXHAUSTED, "message of " + messageBytes
                    + " bytes exceeds the limit of " + maxMessageBytes + " bytes"));
        } else if (binaryMessage) {
            jobs.sendError("", CallError.of(GrpcStatus.INVALID_ARGUMENT,
                    "binary messages are not accepted: send each SessionRequest as JSON in a text message"));
        } else {
            Buffer whole = fragments;
            if (whole == null) {
                whole = data;
            } else {
                whole.appendBuffer(data);
            }
            if (whole.length() >= OFF_LOOP_BYTES) {
                fragments = null;
                decodeOffLoop(whole);
                return;
            }
            onDecoded(decode(whole, authenticated, owner.service()));
        }
        fragments = null;
        pauseReadingWhileFull();
    }

    /**
     * A text message, decoded: not UTF-8 ({@code text} null), or its text and, once authenticated, its request; a
     * generate job whose text is over its model's byte bound comes with its {@code refusal}.
     */
    private record Decoded(@Nullable String text, @Nullable SessionRequest request, @Nullable CallError error,
                           String errorId, @Nullable CallError refusal) {
        Decoded(@Nullable String text, @Nullable SessionRequest request, @Nullable CallError error, String errorId) {
            this(text, request, error, errorId, null);
        }
    }

    /**
     * UTF-8 and, when {@code parse}, the JSON of a SessionRequest, and a generate job's text against its model's
     * byte bound ({@link PromptCheck}: right after parsing, before the serving core): pure, so it may run on a
     * worker thread.
     */
    private static Decoded decode(Buffer bytes, boolean parse, @Nullable JobService service) {
        String text = utf8(bytes);
        if (text == null || !parse) return new Decoded(text, null, null, "");
        SessionRequest request;
        try {
            request = SessionJson.parse(text);
        } catch (CallException e) {
            return new Decoded(text, null, e.error(), SessionJson.requestIdOf(text));
        }
        CallError refusal = request.hasGenerate() ? PromptCheck.refusal(service, request.getGenerate()) : null;
        return new Decoded(text, request, null, "", refusal);
    }

    /**
     * Decodes a large message on a worker thread: the UTF-8 check and the JSON of a 4 MB prompt would hold the event
     * loop that other sockets and streams share. Reading pauses meanwhile, so messages keep their order.
     */
    private void decodeOffLoop(Buffer whole) {
        decoding = true;
        socket.pause();
        boolean parse = authenticated;
        JobService service = owner.service();
        owner.vertx().executeBlocking(() -> decode(whole, parse, service), false).onComplete(done -> {
            decoding = false;
            if (!ended) {
                if (done.succeeded()) {
                    onDecoded(done.result());
                } else {
                    jobs.sendError("", CallError.of(done.cause()));
                }
            }
            if (!ended) {
                pauseReadingWhileFull();
                resumeReading();
            }
        });
    }

    private void onDecoded(Decoded d) {
        if (d.text() == null) {
            // RFC 6455 8.1: a text message that is not UTF-8 fails the connection, with 1007.
            jobs.cancelAll();
            end(INVALID_PAYLOAD, "text message is not valid UTF-8");
            return;
        }
        boolean first = firstMessage;
        firstMessage = false;
        if (authenticated && first && d.request() == null && d.text().length() < OFF_LOOP_BYTES
                && SessionJson.authorizationOf(d.text()) != null) {
            // The page sends its key first whenever it has one: let that message through on a socket that needs
            // none (no API keys, or a key in the upgrade's header), unless it is a wrong key.
            if (owner.gate().enabled() && owner.gate().authenticate(SessionJson.authorizationOf(d.text())) == null) {
                end(POLICY_VIOLATION, "unauthenticated: unknown API key");
            }
            return;
        }
        if (!authenticated) {
            // Browsers cannot set headers on an upgrade: the first message carries the key.
            tenant = owner.gate().authenticate(SessionJson.authorizationOf(d.text()));
            if (tenant == null) {
                end(POLICY_VIOLATION, "unauthenticated: the first message must be {\"authorization\": "
                        + "\"Bearer <key>\"}");
            } else {
                authenticated = true;
            }
            return;
        }
        if (d.request() == null) {
            jobs.sendError(d.errorId(), d.error() != null ? d.error() : CallError.invalid("request", "no message"));
            return;
        }
        JobService service = draining ? null : owner.gate().serviceFor(tenant, owner.service());
        if (d.refusal() != null) {
            jobs.refuseGenerate(d.request().getRequestId(), d.refusal(), service, owner::unavailableError);
        } else {
            jobs.onRequest(d.request(), service, owner::unavailableError);
        }
    }

    /** The text of {@code bytes}, or null when they are not valid UTF-8. */
    private static @Nullable String utf8(Buffer bytes) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes.getBytes())).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private void pauseReadingWhileFull() {
        if (!ended && !readingPaused && outbound.full()) {
            readingPaused = true;
            socket.pause();
            outbound.whenDrained(() -> {
                readingPaused = false;
                resumeReading();
            });
        }
    }

    private void paceDone() {
        paced = false;
        resumeReading();
    }

    /** Reading resumes once nothing holds it: a full write queue, a message decoding, the upload rate. */
    private void resumeReading() {
        if (!ended && !readingPaused && !decoding && !paced) socket.resume();
    }

    private void maybeEnd() {
        if (!ended && draining && jobs.isEmpty()) {
            end(GOING_AWAY, owner.unavailableError().message());
        }
    }

    private void end(short code, String reason) {
        ended = true;
        outbound.close(code, reason);
        owner.sessionEnded(this);
    }

    private void clientGone(String why) {
        if (ended) {
            return;
        }
        logger.debug("WebSocket session ended by the client: {}", why);
        ended = true;
        outbound.markClosed();
        jobs.cancelAll();
        owner.sessionEnded(this);
    }
}
