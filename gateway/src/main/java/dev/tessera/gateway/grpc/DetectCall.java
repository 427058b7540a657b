package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.DetectRequest;
import dev.tessera.api.v1.Detections;
import dev.tessera.gateway.mapping.DetectMapper;
import dev.tessera.gateway.mapping.EventMapper;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.detect.DetectFrame;
import io.vertx.core.Context;
import io.vertx.grpc.server.GrpcServerRequest;
import reactor.core.publisher.Sinks;

/**
 * One bidirectional {@code Detect} call: one detection stream. Every client message is a frame; every answered
 * frame is a {@code Detections} message. Frames are read as fast as they come (a stream keeps only its newest
 * waiting frame, so reading never grows a buffer); answers go out as the client reads them. When the client
 * half-closes, the call ends OK after its last waiting frame is answered. A bad frame ends the call with its
 * status (INVALID_ARGUMENT naming the field).
 */
final class DetectCall extends JobCall<DetectRequest, Detections> {
    private final Sinks.Many<DetectFrame> frames = Sinks.many().unicast().onBackpressureBuffer();

    DetectCall(InferenceService owner, GrpcServerRequest<DetectRequest, Detections> request, Context context) {
        super(owner, request, context, DetectRequest.getDefaultInstance());
    }

    @Override
    void onMessage(DetectRequest message) {
        frames.tryEmitNext(DetectMapper.toDomain(message));
        if (hasJob()) {
            return;
        }
        JobService service = owner.serviceFor(request);
        if (service == null) {
            finish(owner.unavailableError());
            return;
        }
        run(service.detect(frames.asFlux()));
    }

    @Override
    void onClientEnd() {
        if (hasJob()) {
            frames.tryEmitComplete();
        } else {
            finish(null); // no frame at all: nothing to answer
        }
    }

    @Override
    void emit(JobEvent event) {
        if (event instanceof JobEvent.Detections d) {
            outbound.write(EventMapper.detections(d));
        }
    }

    @Override
    void stop() {
        super.stop();
        frames.tryEmitComplete();
    }
}
