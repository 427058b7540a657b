package dev.tessera.gateway;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.vertx.grpc.health.v1.HealthProto;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import io.vertx.grpc.server.Service;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * {@code grpc.health.v1.Health} ({@code Check} and {@code Watch}) driven by the server's {@link ServingState}:
 * SERVING only while serving, NOT_SERVING while loading or draining, for the whole server ({@code ""}) and for
 * {@code tessera.v1.Inference}; other names get NOT_FOUND (Check) or SERVICE_UNKNOWN (Watch).
 *
 * <p>Written here rather than taken from vertx-grpc-health, whose Check answers SERVING for the empty service
 * name whatever the registered checks say; probes (Kubernetes, grpc-health-probe) ask for exactly that name.
 * The protobuf messages and descriptor come from vertx-grpc-health.
 */
final class HealthEndpoint {
    static final ServiceName NAME = ServiceName.create("grpc.health.v1.Health");
    private static final ServiceMethod<HealthCheckRequest, HealthCheckResponse> CHECK = ServiceMethod.server(NAME,
            "Check", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthCheckRequest.newBuilder()));
    private static final ServiceMethod<HealthCheckRequest, HealthCheckResponse> WATCH = ServiceMethod.server(NAME,
            "Watch", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthCheckRequest.newBuilder()));
    private static final Set<String> KNOWN = Set.of("", "tessera.v1.Inference");

    private final Vertx vertx;
    private final Supplier<ServingState> state;
    private final List<Watcher> watchers = new CopyOnWriteArrayList<>();

    HealthEndpoint(Vertx vertx, Supplier<ServingState> state) {
        this.vertx = vertx;
        this.state = state;
    }

    Service service() {
        return Service.service(NAME, HealthProto.getDescriptor().findServiceByName("Health"))
                .bind(CHECK, this::check)
                .bind(WATCH, this::watch)
                .build();
    }

    /** Pushes the current status to every Watch stream whose status changed. Any thread. */
    void stateChanged() {
        for (Watcher w : watchers) {
            w.context.runOnContext(v -> w.push(status()));
        }
    }

    private ServingStatus status() {
        return state.get() == ServingState.SERVING ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    }

    private void check(GrpcServerRequest<HealthCheckRequest, HealthCheckResponse> request) {
        request.handler(msg -> {
            if (!KNOWN.contains(msg.getService())) {
                request.response().status(GrpcStatus.NOT_FOUND)
                        .statusMessage("unknown service '" + msg.getService() + "'").end();
                return;
            }
            request.response().end(HealthCheckResponse.newBuilder().setStatus(status()).build());
        });
    }

    private void watch(GrpcServerRequest<HealthCheckRequest, HealthCheckResponse> request) {
        request.handler(msg -> {
            if (!KNOWN.contains(msg.getService())) {
                request.response().write(HealthCheckResponse.newBuilder()
                        .setStatus(ServingStatus.SERVICE_UNKNOWN).build());
                return;
            }
            Watcher w = new Watcher(vertx.getOrCreateContext(), request.response());
            watchers.add(w);
            request.exceptionHandler(t -> watchers.remove(w));
            request.response().exceptionHandler(t -> watchers.remove(w));
            w.push(status());
        });
    }

    /** One Watch stream; used on its own event loop. */
    private static final class Watcher {
        private final Context context;
        private final GrpcServerResponse<HealthCheckRequest, HealthCheckResponse> response;
        private ServingStatus last;

        Watcher(Context context, GrpcServerResponse<HealthCheckRequest, HealthCheckResponse> response) {
            this.context = context;
            this.response = response;
        }

        void push(ServingStatus status) {
            if (status != last) {
                last = status;
                response.write(HealthCheckResponse.newBuilder().setStatus(status).build());
            }
        }
    }
}
