package dev.tessera.gateway.grpc;

import dev.tessera.api.v1.DiffuseRequest;
import dev.tessera.api.v1.DiffuseResponse;
import dev.tessera.gateway.mapping.DiffuseMapper;
import dev.tessera.gateway.session.CallError;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.JobEvent;
import io.vertx.core.Context;
import io.vertx.grpc.server.GrpcServerRequest;

/**
 * One server-streaming {@code Diffuse} call: maps the request, runs the job and streams previews, images and Finished
 * messages; a failed job (a bad field, no diffusion model served) ends the call with its status.
 */
final class DiffuseCall extends JobCall<DiffuseRequest, DiffuseResponse> {
    private boolean received;

    DiffuseCall(InferenceService owner, GrpcServerRequest<DiffuseRequest, DiffuseResponse> request, Context context) {
        super(owner, request, context, DiffuseRequest.getDefaultInstance());
    }

    @Override
    void onMessage(DiffuseRequest message) {
        if (received) {
            finish(CallError.invalid("request", "Diffuse takes one DiffuseRequest; the client sent a second"));
            return;
        }
        received = true;
        JobService service = owner.serviceFor(request);
        if (service == null) {
            finish(owner.unavailableError());
            return;
        }
        run(service.diffuse(DiffuseMapper.toDomain(message)));
    }

    @Override
    void onClientEnd() {
        if (!received) {
            finish(CallError.invalid("request", "the client sent no DiffuseRequest message"));
        }
    }

    @Override
    void emit(JobEvent event) {
        DiffuseResponse r = DiffuseMapper.response(event);
        if (r != null) outbound.write(r);
    }
}
