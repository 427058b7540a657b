package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.gateway.mapping.EventMapper;
import dev.tessera.gateway.mapping.GenerateMapper;
import dev.tessera.gateway.session.CallError;
import dev.tessera.gateway.session.PromptCheck;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.grpc.common.WireFormat;
import io.vertx.grpc.server.GrpcServerRequest;
import java.util.UUID;
import org.jspecify.annotations.Nullable;

/**
 * One server-streaming {@code Generate} call: maps the request, runs the job and streams deltas and Finished
 * messages; a failed job ends the call with its status.
 */
final class GenerateCall extends JobCall<GenerateRequest, GenerateResponse> implements FirstBytesGuard.Refusable {
    private boolean received;

    GenerateCall(InferenceService owner, GrpcServerRequest<GenerateRequest, GenerateResponse> request,
                 Context context) {
        super(owner, request, context, GenerateRequest.getDefaultInstance());
    }

    /**
     * The request's first bytes hold a prompt over its model's bound ({@link FirstBytesGuard}): the call ends with
     * the refusal before the rest of the message is read.
     */
    @Override
    public void refuseAtFirstBytes(PromptScan.Refusal refusal, int messagesBefore) {
        if (received) return;
        received = true;
        owner.promptRefusedUnread();
        owner.promptRefusedAtFirstBytes();
        finish(refusal.error());
    }

    @Override
    void onMessage(GenerateRequest message) {
        if (received) {
            // Server streaming takes exactly one request message.
            finish(CallError.invalid("request", "Generate takes one GenerateRequest; the client sent a second"));
            return;
        }
        received = true;
        JobService service = owner.serviceFor(request);
        if (service == null) {
            finish(owner.unavailableError());
            return;
        }
        run(service.generate(GenerateMapper.toDomain("gen-" + UUID.randomUUID(), message)));
    }

    /**
     * A prompt (or chat text) over its model's byte bound is refused from the wire bytes, never decoded
     * ({@link PromptScan}). JSON messages are decoded first; the serving core checks them.
     */
    @Override
    @Nullable CallError refuseUnread(GrpcWire.Payload payload) {
        if (payload.format() != WireFormat.PROTOBUF) return null;
        JobService service = owner.service();
        PromptScan.Refusal refusal = PromptScan.refusal(payload::open, false,
                model -> PromptCheck.bound(service, model));
        if (refusal == null) return null;
        owner.promptRefusedUnread();
        return refusal.error();
    }

    @Override
    void onClientEnd() {
        if (!received) {
            finish(CallError.invalid("request", "the client sent no GenerateRequest message"));
        }
    }

    @Override
    void emit(JobEvent event) {
        if (event instanceof JobEvent.TokenDelta d) {
            outbound.write(GenerateResponse.newBuilder().setDelta(EventMapper.delta(d)).build());
        } else if (event instanceof JobEvent.Finished f) {
            outbound.write(GenerateResponse.newBuilder().setFinished(EventMapper.finished(f)).build());
        }
    }
}
