package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.CallException;
import dev.tessera.gateway.session.PromptCheck;
import dev.tessera.gateway.session.SessionJobs;
import dev.tessera.scheduler.JobService;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.WireFormat;
import io.vertx.grpc.server.GrpcServerRequest;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bidirectional {@code Session} stream: many jobs, told apart by {@code request_id}, share it. A failing job
 * gets an error message; the stream and the other jobs go on. Reading pauses while the stream's write side is
 * full (inbound backpressure). When the client half-closes, the stream ends after its last job.
 */
final class SessionCall implements ActiveCall, FirstBytesGuard.Refusable {
    private static final Logger logger = LoggerFactory.getLogger(SessionCall.class);

    private final InferenceService owner;
    private final GrpcServerRequest<SessionRequest, SessionResponse> request;
    private final Outbound<SessionResponse> outbound;
    private final SessionJobs jobs;
    private boolean halfClosed;
    private boolean ended;
    private boolean readingPaused;
    /** A large message is being decoded on a worker thread (reading is paused until it is done). */
    private boolean decoding;
    private boolean draining;
    private long deadlineTimer = -1;
    /** Client messages handled so far (decoded and acted on, or answered as bad). */
    private int messagesHandled;
    /**
     * Jobs refused from their first bytes ({@link FirstBytesGuard}), each answered once the messages before it are
     * handled, so the session's answers keep its messages' order.
     */
    private final java.util.ArrayDeque<EarlyRefusal> earlyRefusals = new java.util.ArrayDeque<>();

    /** A job refused from its first bytes, after {@code messagesBefore} messages. */
    private record EarlyRefusal(int messagesBefore, PromptScan.Refusal refusal) {
    }

    SessionCall(InferenceService owner, GrpcServerRequest<SessionRequest, SessionResponse> request,
                Context context) {
        this.owner = owner;
        this.request = request;
        this.outbound = new Outbound<>(request.response(), owner.options().writeQueueMaxBytes());
        this.jobs = new SessionJobs(context, outbound, outbound::write, owner.options(), this::maybeEnd);
    }

    void start() {
        request.messageHandler(raw -> {
            if (ended) return;
            if (raw.payload().length() >= JobCall.OFF_LOOP_BYTES) {
                decodeOffLoop(raw);
                return;
            }
            Read read;
            try {
                read = read(raw, owner.options().maxMessageBytes());
            } catch (CallException e) {
                badMessage(e.error());
                handled();
                return;
            }
            onRead(read);
            handled();
        });
        request.endHandler(v -> {
            answerEarlyRefusals(Integer.MAX_VALUE);
            halfClosed = true;
            jobs.inputEnded();
            maybeEnd();
        });
        request.invalidMessageHandler(e -> {
            jobs.sendError("", JobCall.invalidMessage(e, owner.options().maxMessageBytes()));
            handled();
        });
        request.errorHandler(err -> clientGone("client error " + err));
        request.exceptionHandler(t -> clientGone(t.toString()));
        request.response().exceptionHandler(t -> clientGone(t.toString()));
        long timeout = request.timeout();
        if (timeout > 0) {
            deadlineTimer = owner.vertx().setTimer(timeout, id -> {
                deadlineTimer = -1;
                abort(CallError.of(GrpcStatus.DEADLINE_EXCEEDED, "deadline of " + timeout + " ms exceeded"));
            });
        }
    }

    /**
     * Decodes a large message on a worker thread, as {@code Generate} does: a 4 MB prompt would hold the event loop
     * that other streams share. Reading pauses meanwhile, so later messages and the half-close keep their order.
     */
    private void decodeOffLoop(GrpcMessage raw) {
        decoding = true;
        request.pause();
        int max = owner.options().maxMessageBytes();
        owner.vertx().executeBlocking(() -> read(raw, max), false)
                .onComplete(decoded -> {
                    decoding = false;
                    if (!ended) {
                        if (decoded.succeeded()) {
                            onRead(decoded.result());
                        } else if (decoded.cause() instanceof CallException e) {
                            badMessage(e.error());
                        } else {
                            abort(CallError.of(decoded.cause()));
                        }
                    }
                    handled();
                    if (!readingPaused) request.resume();
                });
    }

    /**
     * A generate job whose first bytes hold a prompt over its model's bound ({@link FirstBytesGuard}; the rest of
     * its message is never read): answered as {@link #read} would have, once the messages before it are handled.
     */
    @Override
    public void refuseAtFirstBytes(PromptScan.Refusal refusal, int messagesBefore) {
        owner.promptRefusedUnread();
        owner.promptRefusedAtFirstBytes();
        earlyRefusals.add(new EarlyRefusal(messagesBefore, refusal));
        answerEarlyRefusals(messagesHandled);
    }

    /** One more client message handled: the refusals that came after it may be answered. */
    private void handled() {
        messagesHandled++;
        answerEarlyRefusals(messagesHandled);
    }

    /** Answers, in order, the early refusals that came after at most {@code handled} messages. */
    private void answerEarlyRefusals(int handled) {
        while (!earlyRefusals.isEmpty() && earlyRefusals.peek().messagesBefore() <= handled) {
            PromptScan.Refusal refusal = earlyRefusals.poll().refusal();
            if (ended) continue;
            jobs.refuseGenerate(refusal.requestId(), refusal.error(), owner.serviceFor(request),
                    owner::unavailableError);
            pauseReadingWhileFull();
        }
    }

    /** A client message, decoded; or a generate job refused from its bytes, never decoded. */
    private record Read(@Nullable SessionRequest message, PromptScan.@Nullable Refusal refusal) {
    }

    /**
     * Decodes a client message, unless it is a generate job whose text is over its model's byte bound: that one is
     * refused from its wire bytes ({@link PromptScan}; JSON messages are decoded and left to the serving core).
     * Pure but for the counter, so it may run on a worker thread.
     */
    private Read read(GrpcMessage raw, int maxBytes) {
        GrpcWire.Payload payload = GrpcWire.payload(raw, maxBytes);
        if (payload.format() == WireFormat.PROTOBUF) {
            JobService service = owner.service();
            PromptScan.Refusal refusal = PromptScan.refusal(payload::open, true,
                    model -> PromptCheck.bound(service, model));
            if (refusal != null) {
                owner.promptRefusedUnread();
                return new Read(null, refusal);
            }
        }
        return new Read(GrpcWire.parse(payload, SessionRequest.getDefaultInstance()), null);
    }

    private void onRead(Read read) {
        if (ended) {
            return;
        }
        PromptScan.Refusal refusal = read.refusal();
        if (refusal != null) {
            jobs.refuseGenerate(refusal.requestId(), refusal.error(), owner.serviceFor(request),
                    owner::unavailableError);
            pauseReadingWhileFull();
        } else {
            onMessage(java.util.Objects.requireNonNull(read.message()));
        }
    }

    private void badMessage(CallError error) {
        if (error.status() == GrpcStatus.INVALID_ARGUMENT) {
            jobs.sendError("", error); // one bad message: the stream and its jobs go on
        } else {
            abort(error); // the framing or compression is broken: nothing after it can be trusted
        }
    }

    /** Draining: the stream ends (UNAVAILABLE) once its live jobs are done, so the client can move elsewhere. */
    @Override
    public void draining() {
        draining = true;
        maybeEnd();
    }

    /** Live jobs (for tests). */
    int jobCount() {
        return jobs.size();
    }

    private void onMessage(SessionRequest message) {
        if (ended) {
            return;
        }
        jobs.onRequest(message, owner.serviceFor(request), owner::unavailableError);
        pauseReadingWhileFull();
    }

    private void pauseReadingWhileFull() {
        if (!readingPaused && outbound.full()) {
            readingPaused = true;
            request.pause();
            outbound.whenDrained(() -> {
                readingPaused = false;
                if (!decoding) request.resume();
            });
        }
    }

    private void maybeEnd() {
        if (ended || !jobs.isEmpty()) {
            return;
        }
        if (halfClosed) {
            ended = true;
            cancelTimer();
            outbound.end();
            owner.callEnded(this);
        } else if (draining) {
            abort(owner.unavailableError());
        }
    }

    private void cancelTimer() {
        if (deadlineTimer >= 0) {
            owner.vertx().cancelTimer(deadlineTimer);
            deadlineTimer = -1;
        }
    }

    @Override
    public void abort(CallError error) {
        if (ended) {
            return;
        }
        ended = true;
        cancelTimer();
        jobs.cancelAll();
        outbound.fail(error);
        owner.callEnded(this);
    }

    private void clientGone(String why) {
        if (ended) {
            return;
        }
        logger.debug("Session ended by the client: {}", why);
        ended = true;
        cancelTimer();
        outbound.markClosed();
        jobs.cancelAll();
        owner.callEnded(this);
    }
}
