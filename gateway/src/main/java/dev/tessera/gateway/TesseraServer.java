package dev.tessera.gateway;

import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.Scheduler;
import dev.tessera.scheduler.SchedulerConfig;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The whole server: gateway, scheduler and engine, started in that order (the port answers, with health
 * NOT_SERVING, while the model loads) and closed in reverse (drain the gateway, stop the scheduler, free the
 * engine). Owns all three.
 */
public final class TesseraServer implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(TesseraServer.class);

    private final GatewayServer gateway;
    private final TextEngine engine;
    private final Scheduler scheduler;

    private TesseraServer(GatewayServer gateway, TextEngine engine, Scheduler scheduler) {
        this.gateway = gateway;
        this.engine = engine;
        this.scheduler = scheduler;
    }

    /** Listens, loads the model, starts the scheduler and turns SERVING. Blocks until serving. */
    public static TesseraServer start(GatewayOptions gatewayOptions, TextEngineOptions engineOptions,
                                      SchedulerConfig schedulerConfig) {
        GatewayServer gateway = GatewayServer.start(gatewayOptions);
        TextEngine engine = null;
        try {
            long t0 = System.nanoTime();
            engine = TextEngine.load(engineOptions);
            Scheduler scheduler = Scheduler.create(engine, schedulerConfig).start();
            gateway.serve(scheduler);
            logger.info("Model '{}' loaded in {} ms", engine.info().name(), (System.nanoTime() - t0) / 1_000_000);
            return new TesseraServer(gateway, engine, scheduler);
        } catch (RuntimeException e) {
            gateway.shutdown(Duration.ZERO);
            if (engine != null) {
                engine.close();
            }
            throw e;
        }
    }

    public GatewayServer gateway() {
        return gateway;
    }

    public Scheduler scheduler() {
        return scheduler;
    }

    public TextEngine engine() {
        return engine;
    }

    /** Drains within the gateway's grace period, then stops the scheduler and frees the engine. */
    @Override
    public void close() {
        gateway.close();
        scheduler.close();
        engine.close();
    }
}
