package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detections;
import dev.tessera.gateway.mapping.DetectMapper;
import dev.tessera.gateway.mapping.EventMapper;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.JobSink;
import dev.tessera.gateway.session.JobSubscriber;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.detect.DetectFrame;
import io.vertx.core.Context;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Sinks;

/**
 * One bidirectional {@code Detect} call: one detection stream. Every client message is a frame; every answered
 * frame is a {@code Detections} message. Frames are read as fast as they come (a stream keeps only its newest
 * waiting frame, so reading never grows a buffer); answers go out as the client reads them. When the client
 * half-closes, the call ends OK after its last waiting frame is answered. A bad frame ends the call with its
 * status (INVALID_ARGUMENT naming the field). Cancelled when the client cancels or disconnects, or the deadline
 * passes.
 */
final class DetectCall implements ActiveCall, JobSink {
    private static final Logger logger = LoggerFactory.getLogger(DetectCall.class);

    private final InferenceService owner;
    private final GrpcServerRequest<DetectRequest, Detections> request;
    private final Context context;
    private final Outbound<Detections> outbound;
    private final Sinks.Many<DetectFrame> frames = Sinks.many().unicast().onBackpressureBuffer();
    private @Nullable JobSubscriber job;
    private @Nullable CallError failure;
    private long deadlineTimer = -1;
    private boolean ended;

    DetectCall(InferenceService owner, GrpcServerRequest<DetectRequest, Detections> request, Context context) {
        this.owner = owner;
        this.request = request;
        this.context = context;
        this.outbound = new Outbound<>(request.response(), owner.options().writeQueueMaxBytes());
    }

    void start() {
        request.handler(this::onFrame);
        request.endHandler(v -> {
            if (job == null && !ended) {
                finish(null); // no frame at all: nothing to answer
            } else {
                frames.tryEmitComplete();
            }
        });
        request.invalidMessageHandler(e -> finish(GenerateCall.invalidMessage(e, owner.options().maxMessageBytes())));
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

    private void onFrame(DetectRequest message) {
        if (ended) {
            return;
        }
        frames.tryEmitNext(DetectMapper.toDomain(message));
        if (job != null) {
            return;
        }
        JobService service = owner.service();
        if (service == null) {
            finish(owner.unavailableError());
            return;
        }
        JobSubscriber subscriber = new JobSubscriber(context, outbound, owner.options().streamBatch(), this);
        job = subscriber;
        service.detect(frames.asFlux()).subscribe(subscriber);
    }

    @Override
    public void onEvent(JobEvent event) {
        if (event instanceof JobEvent.Detections d) {
            outbound.write(EventMapper.detections(d));
        } else if (event instanceof JobEvent.Error e) {
            failure = CallError.of(e.failure());
        }
    }

    @Override
    public void onComplete() {
        job = null;
        finish(failure);
    }

    @Override
    public void abort(CallError error) {
        finish(error);
    }

    private void finish(@Nullable CallError error) {
        if (ended) {
            return;
        }
        ended = true;
        cancelTimerAndJob();
        if (error == null) {
            outbound.end();
        } else {
            outbound.fail(error);
        }
        owner.callEnded(this);
    }

    private void clientGone(String why) {
        if (ended) {
            return;
        }
        logger.debug("Detect call ended by the client: {}", why);
        ended = true;
        outbound.markClosed();
        cancelTimerAndJob();
        owner.callEnded(this);
    }

    private void cancelTimerAndJob() {
        if (deadlineTimer >= 0) {
            owner.vertx().cancelTimer(deadlineTimer);
            deadlineTimer = -1;
        }
        JobSubscriber j = job;
        job = null;
        if (j != null) {
            j.cancelJob();
        }
        frames.tryEmitComplete();
    }
}
