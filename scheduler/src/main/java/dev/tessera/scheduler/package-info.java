/**
 * The serving core: {@link dev.tessera.scheduler.JobService} is what the network edge sees (domain requests in, a
 * Flux of {@link dev.tessera.scheduler.core.JobEvent}s out); {@link dev.tessera.scheduler.Scheduler} assembles it.
 * Folders: {@code core} (jobs, events, the work loop, fairness, the model registry), {@code serving} (input and
 * output processing threads), and one folder per job kind: {@code text}, {@code detect}.
 */
@NullMarked
package dev.tessera.scheduler;

import org.jspecify.annotations.NullMarked;
