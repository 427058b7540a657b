/**
 * The kind-neutral job core: {@link dev.tessera.scheduler.core.Job} (demand, cancellation, end),
 * {@link dev.tessera.scheduler.core.JobEvent} (every event of every kind), {@link dev.tessera.scheduler.core.Lane}
 * (one served model's step policy), {@link dev.tessera.scheduler.core.WorkLoop} (the one loop thread),
 * {@link dev.tessera.scheduler.core.FairShare} (which model steps next) and
 * {@link dev.tessera.scheduler.core.ModelRegistry} (models by name and kind). Nothing here knows a job kind.
 */
@NullMarked
package dev.tessera.scheduler.core;

import org.jspecify.annotations.NullMarked;
