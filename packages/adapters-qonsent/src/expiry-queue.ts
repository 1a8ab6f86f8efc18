/** One scheduled event: a grant expires, or an expired grant is purged. */
export interface Due {
  /** When, ms since the epoch. */
  readonly at: number
  /** The grant. */
  readonly id: string
  /** What happens then. */
  readonly kind: 'expire' | 'purge'
}

/** A binary min-heap of due events, earliest first. */
export class ExpiryQueue {
  private readonly heap: Due[] = []

  /** How many events are queued. */
  get size(): number {
    return this.heap.length
  }

  /** The earliest event, without removing it. */
  peek(): Due | undefined {
    return this.heap[0]
  }

  /** Queues an event. */
  push(due: Due): void {
    const heap = this.heap
    heap.push(due)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((heap[parent] as Due).at <= due.at) break
      heap[i] = heap[parent] as Due
      i = parent
    }
    heap[i] = due
  }

  /** Removes and returns the earliest event. */
  pop(): Due | undefined {
    const heap = this.heap
    const top = heap[0]
    const last = heap.pop()
    if (top === undefined || last === undefined || heap.length === 0) return top
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && (heap[right] as Due).at < (heap[left] as Due).at ? right : left
      if ((heap[child] as Due).at >= last.at) break
      heap[i] = heap[child] as Due
      i = child
    }
    heap[i] = last
    return top
  }

  /** Drops every event. */
  clear(): void {
    this.heap.length = 0
  }
}
