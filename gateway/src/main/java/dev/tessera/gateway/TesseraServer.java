package dev.tessera.gateway;

import dev.tessera.engine.detect.DetrEngine;
import dev.tessera.engine.diffusion.DiffusionEngine;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.detect.DetrDetector;
import dev.tessera.scheduler.diffuse.DiffusionPipeline;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole server: gateway, serving core and engines, started in that order (the port answers, with health
 * NOT_SERVING, while the models load) and closed in reverse (drain the gateway, stop the loop, free the engines).
 * Owns all of them. A start that fails halfway closes whatever it had opened: the engines loaded so far, the
 * serving core's threads, Vert.x.
 */
public final class TesseraServer implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(TesseraServer.class);

    private final GatewayServer gateway;
    private final List<AutoCloseable> engines;
    private final Scheduler scheduler;
    /** How the drain went, once {@link #shutdown} has run. */
    private @Nullable Boolean drained;

    private TesseraServer(GatewayServer gateway, List<AutoCloseable> engines, Scheduler scheduler) {
        this.gateway = gateway;
        this.engines = engines;
        this.scheduler = scheduler;
    }

    /**
     * Listens, loads every model (the first of each kind is its default), starts the loop and turns SERVING.
     * Blocks until serving.
     *
     * @param loop the serving core's builder with its own settings (fairness, threads); the models are added here
     */
    public static TesseraServer start(GatewayOptions gatewayOptions, List<ModelSpec> models,
                                      Scheduler.Builder loop) {
        Objects.requireNonNull(models, "models");
        if (models.isEmpty()) throw new IllegalArgumentException("no model to serve");
        GatewayServer gateway = GatewayServer.start(gatewayOptions);
        List<AutoCloseable> engines = new ArrayList<>();
        Scheduler scheduler = null;
        try {
            long t0 = System.nanoTime();
            for (ModelSpec spec : models) load(spec, loop, engines);
            scheduler = loop.build().start();
            gateway.serve(scheduler);
            logger.info("{} models loaded in {} ms", models.size(), (System.nanoTime() - t0) / 1_000_000);
            return new TesseraServer(gateway, engines, scheduler);
        } catch (RuntimeException | Error e) {
            gateway.shutdown(Duration.ZERO);
            if (scheduler != null) scheduler.close();
            closeAll(engines, e);
            throw e;
        }
    }

    /** One text model under its default lane limits. */
    public static TesseraServer start(GatewayOptions gatewayOptions, ModelSpec.Text model) {
        return start(gatewayOptions, List.of(model), Scheduler.builder());
    }

    private static void load(ModelSpec spec, Scheduler.Builder loop, List<AutoCloseable> engines) {
        if (spec instanceof ModelSpec.Text t) {
            TextEngine engine = TextEngine.load(t.engine());
            engines.add(engine);
            loop.text(engine, t.lane());
        } else if (spec instanceof ModelSpec.Diffusion d) {
            DiffusionEngine engine = DiffusionEngine.load(d.engine());
            engines.add(engine);
            loop.diffusion(DiffusionPipeline.of(engine), d.lane());
        } else if (spec instanceof ModelSpec.Detector d) {
            DetrEngine engine = DetrEngine.load(d.engine());
            engines.add(engine);
            loop.detector(new DetrDetector(engine), d.lane());
        }
    }

    public GatewayServer gateway() {
        return gateway;
    }

    public Scheduler scheduler() {
        return scheduler;
    }

    /** The loaded engines, in the order of the specs. */
    public List<AutoCloseable> engines() {
        return List.copyOf(engines);
    }

    /** Drains within the gateway's grace period, then stops the loop and frees the engines. */
    @Override
    public void close() {
        shutdown();
    }

    /**
     * As {@link #close}, and says how the drain went; idempotent (a second call waits for the first and returns
     * its answer).
     *
     * @return true when every call in flight finished within the grace period, false when some were cut off
     */
    public synchronized boolean shutdown() {
        if (drained != null) return drained;
        boolean complete = false;
        try {
            complete = gateway.shutdown(gateway.options().gracePeriod());
        } finally {
            drained = complete;
            try {
                scheduler.close();
            } finally {
                closeAll(engines, null);
            }
        }
        return complete;
    }

    /** Closes in reverse order; failures are added to {@code primary} (or logged when there is none). */
    private static void closeAll(List<AutoCloseable> engines, Throwable primary) {
        for (int i = engines.size() - 1; i >= 0; i--) {
            try {
                engines.get(i).close();
            } catch (Exception e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else {
                    logger.warn("closing an engine failed", e);
                }
            }
        }
    }
}
