package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.SessionResponse;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.CallException;
import dev.tessera.gateway.session.SessionJobs;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One bidirectional {@code Session} stream: many jobs, told apart by {@code request_id}, share it. A failing job
 * gets an error message; the stream and the other jobs go on. Reading pauses while the stream's write side is
 * full (inbound backpressure). When the client half-closes, the stream ends after its last job.
 */
final class SessionCall implements ActiveCall {
    private static final Logger logger = LoggerFactory.getLogger(SessionCall.class);

    private final InferenceService owner;
    private final GrpcServerRequest<SessionRequest, SessionResponse> request;
    private final Outbound<SessionResponse> outbound;
    private final SessionJobs jobs;
    private boolean halfClosed;
    private boolean ended;
    private boolean readingPaused;
    private boolean draining;
    private long deadlineTimer = -1;

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
            SessionRequest message;
            try {
                message = GrpcWire.decode(raw, SessionRequest.getDefaultInstance(), owner.options().maxMessageBytes());
            } catch (CallException e) {
                if (e.error().status() == GrpcStatus.INVALID_ARGUMENT) {
                    jobs.sendError("", e.error()); // one bad message: the stream and its jobs go on
                } else {
                    abort(e.error()); // the framing or compression is broken: nothing after it can be trusted
                }
                return;
            }
            onMessage(message);
        });
        request.endHandler(v -> {
            halfClosed = true;
            jobs.inputEnded();
            maybeEnd();
        });
        request.invalidMessageHandler(e ->
                jobs.sendError("", JobCall.invalidMessage(e, owner.options().maxMessageBytes())));
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
        if (!readingPaused && outbound.full()) {
            readingPaused = true;
            request.pause();
            outbound.whenDrained(() -> {
                readingPaused = false;
                request.resume();
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
