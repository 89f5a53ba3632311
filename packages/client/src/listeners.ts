/** Typed listeners by event name; a listener that throws does not stop the others. */
export class Listeners<Events> {
  private readonly byType = new Map<keyof Events, Set<(value: never) => void>>();

  on<K extends keyof Events>(type: K, listener: (value: Events[K]) => void): () => void {
    let set = this.byType.get(type);
    if (set === undefined) this.byType.set(type, (set = new Set()));
    set.add(listener as (value: never) => void);
    return () => set.delete(listener as (value: never) => void);
  }

  emit<K extends keyof Events>(type: K, value: Events[K]): void {
    const set = this.byType.get(type);
    if (set === undefined) return;
    for (const l of set) {
      try {
        (l as (value: Events[K]) => void)(value);
      } catch (e) {
        // A failing listener is the application's bug: report it without breaking the stream.
        (globalThis as { console?: { error(...a: unknown[]): void } }).console?.error('[@fleetline/client] listener failed', e);
      }
    }
  }
}
