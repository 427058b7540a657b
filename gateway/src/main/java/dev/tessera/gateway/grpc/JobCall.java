package dev.tessera.gateway.grpc;

import com.google.protobuf.Message;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.CallException;
import dev.tessera.gateway.session.JobSink;
import dev.tessera.gateway.session.JobSubscriber;
import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcMessage;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.MessageSizeOverflowException;
import io.vertx.grpc.server.GrpcServerRequest;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;

/**
 * A call that carries one job: the life shared by {@code Generate} and {@code Detect}. It subscribes to the job's
 * events with demand tied to the HTTP/2 stream, ends OK after the job completes (or with the status of its
 * {@code Error} event), and cancels the job when the client cancels or disconnects, or the deadline passes.
 * Everything runs on the call's event loop.
 *
 * @param <Q> the request message
 * @param <R> the response message
 */
abstract class JobCall<Q extends Message, R> implements ActiveCall, JobSink {
    private static final Logger logger = LoggerFactory.getLogger(JobCall.class);
    /** Messages of at least this many bytes are decoded off the event loop. */
    static final int OFF_LOOP_BYTES = 64 << 10;

    final InferenceService owner;
    final GrpcServerRequest<Q, R> request;
    final Outbound<R> outbound;
    private final Context context;
    private final Q prototype;
    /** When the call reached the gateway (its headers were read): for the rejection-latency histogram. */
    private final long arrivalNanos = System.nanoTime();
    private @Nullable JobSubscriber job;
    private @Nullable CallError failure;
    private long deadlineTimer = -1;
    private boolean ended;

    /** @param prototype the request message's default instance: how client messages are decoded */
    JobCall(InferenceService owner, GrpcServerRequest<Q, R> request, Context context, Q prototype) {
        this.owner = owner;
        this.request = request;
        this.context = context;
        this.prototype = prototype;
        this.outbound = new Outbound<>(request.response(), owner.options().writeQueueMaxBytes());
    }

    final void start() {
        // Raw messages, decoded here: a message that does not decode ends the call with its status.
        request.messageHandler(raw -> {
            if (ended) return;
            if (raw.payload().length() >= OFF_LOOP_BYTES) {
                decodeOffLoop(raw);
                return;
            }
            Q message;
            try {
                message = read(raw, owner.options().maxMessageBytes());
            } catch (CallException e) {
                finish(e.error());
                return;
            }
            onMessage(message);
        });
        request.endHandler(v -> {
            if (!ended) onClientEnd();
        });
        request.invalidMessageHandler(e -> finish(invalidMessage(e, owner.options().maxMessageBytes())));
        request.errorHandler(err -> clientGone("client error " + err));
        request.exceptionHandler(t -> clientGone(t.toString()));
        request.response().exceptionHandler(t -> clientGone(t.toString()));
        long timeout = request.timeout();
        if (timeout > 0) {
            deadlineTimer = owner.vertx().setTimer(timeout, id -> {
                deadlineTimer = -1;
                finish(CallError.of(GrpcStatus.DEADLINE_EXCEEDED, "deadline of " + timeout + " ms exceeded"));
            });
        }
    }

    /**
     * Decodes a large message on a worker thread: parsing megabytes (a 4 MB prompt) would hold the event loop, and
     * every other stream on it, for milliseconds. Reading pauses meanwhile, so the messages after it and the
     * client's end still come in order.
     */
    private void decodeOffLoop(GrpcMessage raw) {
        request.pause();
        int max = owner.options().maxMessageBytes();
        owner.vertx().executeBlocking(() -> read(raw, max), false).onComplete(decoded -> {
            if (!ended) {
                if (decoded.succeeded()) {
                    onMessage(decoded.result());
                } else {
                    finish(CallError.of(decoded.cause()));
                }
            }
            request.resume();
        });
    }

    /** Decodes a client message, unless {@link #refuseUnread} refuses its bytes first. */
    private Q read(GrpcMessage raw, int maxBytes) {
        GrpcWire.Payload payload = GrpcWire.payload(raw, maxBytes);
        CallError refused = refuseUnread(payload);
        if (refused != null) throw refused.exception();
        return GrpcWire.parse(payload, prototype);
    }

    /**
     * The call's refusal of a message from its bytes, before they are decoded (on a worker thread for a large
     * message); null to decode it. None by default.
     */
    @Nullable CallError refuseUnread(GrpcWire.Payload payload) {
        return null;
    }

    /** A client message. */
    abstract void onMessage(Q message);

    /** The client half-closed. */
    abstract void onClientEnd();

    /** A job event other than an error: write what the client should see. */
    abstract void emit(JobEvent event);

    /** The call's job is live. */
    final boolean hasJob() {
        return job != null;
    }

    /** Runs the job: its events go to {@link #emit}, paced by the stream. */
    final void run(Flux<JobEvent> events) {
        JobSubscriber subscriber = new JobSubscriber(context, outbound, owner.options().streamBatch(), this);
        job = subscriber;
        events.subscribe(subscriber);
    }

    @Override
    public final void onEvent(JobEvent event) {
        if (event instanceof JobEvent.Error e) {
            failure = CallError.of(e.failure());
        } else {
            emit(event);
        }
    }

    @Override
    public final void onComplete() {
        job = null;
        finish(failure);
    }

    @Override
    public final void abort(CallError error) {
        finish(error);
    }

    /** Ends the call once: OK when {@code error} is null. Cancels the job if it still runs. */
    final void finish(@Nullable CallError error) {
        if (ended) return;
        ended = true;
        stop();
        if (error == null) {
            outbound.end();
        } else {
            boolean refusal = error.status() == GrpcStatus.RESOURCE_EXHAUSTED && !outbound.wroteAny();
            outbound.fail(error);
            if (refusal) owner.rejected(System.nanoTime() - arrivalNanos);
        }
        owner.callEnded(this);
    }

    private void clientGone(String why) {
        if (ended) return;
        logger.debug("{} ended by the client: {}", getClass().getSimpleName(), why);
        ended = true;
        outbound.markClosed();
        stop();
        owner.callEnded(this);
    }

    /** Cancels the deadline and the job; subclasses also let go of their input. */
    void stop() {
        if (deadlineTimer >= 0) {
            owner.vertx().cancelTimer(deadlineTimer);
            deadlineTimer = -1;
        }
        JobSubscriber j = job;
        job = null;
        if (j != null) j.cancelJob();
    }

    static CallError invalidMessage(Throwable e, int limit) {
        if (e instanceof MessageSizeOverflowException) {
            return CallError.of(GrpcStatus.RESOURCE_EXHAUSTED,
                    "message larger than the server's limit of " + limit + " bytes");
        }
        return CallError.of(GrpcStatus.INVALID_ARGUMENT, "malformed message: " + e.getMessage());
    }
}
