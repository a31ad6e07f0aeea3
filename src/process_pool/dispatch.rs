//! The pool's state and what changes it (rules R1–R6 of `mod.rs`): dispatch, the
//! replies, a worker's end, breaking, shutdown; and the job that claims a call for a worker.

use super::*;

#[derive(Default)]
pub(super) struct State {
    pub(super) queue: VecDeque<TaskRef>,
    pub(super) workers: Vec<Slot>,
    pub(super) next_key: u64,
    pub(super) next_call: u64,
    pub(super) shutdown: bool,
    /// `terminate_workers` or `kill_workers` was called: the workers' ends are expected.
    pub(super) forced: Option<&'static str>,
    pub(super) broken: Option<String>,
    pub(super) started: usize,
    /// Workers removed whose calls' futures are still being settled (`on_exit`).
    pub(super) settling: usize,
}

impl State {
    /// Every worker has ended and every future it held is settled: what a waiting
    /// shutdown waits for.
    pub(super) fn quiet(&self) -> bool {
        self.workers.is_empty() && self.settling == 0
    }
}

/// One worker, as the pool's state holds it.
pub(super) struct Slot {
    pub(super) key: u64,
    /// Its process id; 0 once its reader saw it end (it may be reaped: never signal it).
    pub(super) pid: u32,
    /// The handshake succeeded: it may take calls.
    pub(super) ready: bool,
    /// Its writer's channel; `None` once closed (the worker is told to exit).
    pub(super) tx: Option<mpsc::Sender<Vec<u8>>>,
    /// Calls sent and not answered: each one's task (its [`Publisher::task_id`], so that a
    /// cancel request finds its call) and how to publish it.
    pub(super) inflight: HashMap<u64, (usize, Publish)>,
    /// Calls ever sent (for `max_tasks_per_child`).
    pub(super) sent: usize,
}

impl Slot {
    pub(super) fn open(&self) -> bool {
        self.tx.is_some()
    }
}

/// What a worker's reader (or a break) hands to a dispatched call.
pub(crate) enum Reply {
    Done(Vec<Outcome>),
    Failed(Exception),
}

/// Settles a dispatched call's future with a reply (running no user code, R1), counting
/// how it ended first (so a thread that sees it done finds it counted), and returns what
/// wakes its listeners.
pub(super) type Publish = Box<dyn FnOnce(Reply, &Counts) -> Notify + Send>;

/// The pool's task counts ([`ProcessPoolExecutor::metrics`]): relaxed counters that carry
/// no protocol, each bumped once per task, where the task's fate is decided.
#[derive(Default)]
pub(super) struct Counts {
    pub(super) submitted: AtomicU64,
    pub(super) started: AtomicU64,
    pub(super) completed: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) panicked: AtomicU64,
    pub(super) cancelled: AtomicU64,
}

impl Counts {
    pub(super) fn bump(counter: &AtomicU64) {
        // ORDERING: Relaxed: a count synchronizes nothing; a snapshot is exact once quiet.
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn ended(&self, how: Ended) {
        match how {
            Ended::Value => Self::bump(&self.completed),
            Ended::Panic => Self::bump(&self.panicked),
            Ended::Cancelled => Self::bump(&self.cancelled),
            Ended::Exception | Ended::Elsewhere | Ended::Detached => Self::bump(&self.failed),
        }
    }

    pub(super) fn get(counter: &AtomicU64) -> u64 {
        // ORDERING: as in `bump`.
        counter.load(Ordering::Relaxed)
    }
}

/// Wakes a settled future's listeners: user code, run after every future of the batch is
/// settled.
pub(super) type Notify = Box<dyn FnOnce() + Send>;

/// Work decided under the lock and done after it (R1).
#[derive(Default)]
pub(super) struct Later {
    publish: Vec<(Publish, Reply)>,
    /// Queued tasks to end: `Some` fails them, `None` cancels them.
    end: Vec<(TaskRef, Option<Exception>)>,
}

impl Later {
    /// Two phases, as the thread pool's drains: every future of the batch is settled
    /// (FINISHED or CANCELLED) before any callback of one of them runs, so a callback that
    /// waits on another of the batch finds it done.
    pub(super) fn run(self, pool: &Pool) {
        let counts = &pool.counts;
        let notify: Vec<Notify> = self
            .publish
            .into_iter()
            .map(|(publish, reply)| publish(reply, counts))
            .collect();
        let ended: Vec<(TaskRef, bool)> = self
            .end
            .into_iter()
            .map(|(t, e)| {
                let failing = e.is_some();
                if !failing {
                    // Cancelled now, or earlier by its user and only now taken off the
                    // queue: counted before anyone can see it end here.
                    counts.ended(Ended::Cancelled);
                }
                let ended = t.end(e);
                if failing {
                    // Failed by a break, unless its user had cancelled it already.
                    counts.ended(if ended {
                        Ended::Exception
                    } else {
                        Ended::Cancelled
                    });
                }
                (t, ended)
            })
            .collect();
        for n in notify {
            n();
        }
        for (t, ended) in ended {
            t.finish_ended(ended);
        }
    }
}

/// A claimed call: the task's name, its encoded arguments, its task id, and how to publish
/// its reply.
pub(super) type Claimed = (&'static str, Vec<Vec<u8>>, usize, Publish);

thread_local! {
    /// The call a [`RemoteJob`] just claimed, for the dispatcher that ran it.
    static HANDOFF: RefCell<Option<Claimed>> = const { RefCell::new(None) };
    /// The id of the pool whose reader thread this is (0: none): it must not wait for that
    /// pool's workers to end.
    static POOL_THREAD: Cell<usize> = const { Cell::new(0) };
}

pub(super) fn on_pool_thread(pool: usize) {
    POOL_THREAD.with(|c| c.set(pool));
}

/// Whether this thread is a reader thread of pool `pool`.
pub(super) fn is_pool_thread(pool: usize) -> bool {
    POOL_THREAD.with(Cell::get) == pool
}

/// How a call's replies become its future's outcome.
pub(super) type Finish<T> = fn(Vec<Outcome>) -> Result<T, Exception>;

/// A queued call: the task's name and encoded arguments, and how its replies become `T`.
pub(super) struct RemoteJob<T> {
    pub(super) name: &'static str,
    pub(super) args: Vec<Vec<u8>>,
    pub(super) finish: Finish<T>,
}

impl<T: Send + 'static> Job<T> for RemoteJob<T> {
    const INLINE: bool = false;

    fn run(self, publisher: Publisher<'_, T>) {
        let task = publisher.task_id();
        let publisher = publisher.detach();
        let finish = self.finish;
        let publish: Publish = Box::new(move |reply, counts| {
            let outcome = match reply {
                // Decoding runs the result type's `Deserialize`, user code: a panic there is
                // that future's exception, never the reader thread's end.
                Reply::Done(results) => crate::unwind::capture(|| finish(results)).and_then(|r| r),
                Reply::Failed(e) => Err(e),
            };
            counts.ended(Ended::of(&outcome));
            let settled = publisher.settle(outcome);
            Box::new(move || settled.finish())
        });
        HANDOFF.with(|h| *h.borrow_mut() = Some((self.name, self.args, task, publish)));
    }

    /// Rule R7: forwards the request to the worker that runs the call.
    fn on_request(owner: usize, task: usize) {
        if let Some(pool) = registry::find(owner) {
            pool.deliver_request(task);
        }
    }
}

/// The pools alive in this process, by id, so that a cancel request made through a
/// [`Future`] (which knows only its owner's id) reaches its pool (R7).
pub(super) mod registry {
    use super::*;
    use std::sync::Weak;

    static POOLS: std::sync::Mutex<Vec<(usize, Weak<Pool>)>> = std::sync::Mutex::new(Vec::new());

    pub(in crate::process_pool) fn add(pool: &Arc<Pool>) {
        lock(&POOLS).push((pool.id, Arc::downgrade(pool)));
    }

    /// Called from the pool's `Drop`.
    pub(in crate::process_pool) fn remove(id: usize) {
        lock(&POOLS).retain(|(i, _)| *i != id);
    }

    pub(super) fn find(id: usize) -> Option<Arc<Pool>> {
        // The weak handle is cloned out first: the registry's lock is released before the
        // upgraded pool (maybe its last handle) can drop.
        let weak = lock(&POOLS)
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, w)| w.clone())?;
        weak.upgrade()
    }
}

/// One argument's reply, decoded.
pub(super) fn decode_one<R: DeserializeOwned>(reply: Outcome) -> Result<R, Exception> {
    match reply {
        Ok(bytes) => postcard::from_bytes(&bytes)
            .map_err(|e| Exception::msg(format!("a task's result could not be decoded here: {e}"))),
        Err(record) => Err(Exception::from_record(*record)),
    }
}

pub(super) fn finish_single<R: DeserializeOwned>(results: Vec<Outcome>) -> Result<R, Exception> {
    match results.into_iter().next() {
        Some(reply) => decode_one(reply),
        None => Err(Exception::msg("a worker answered a call with no result")),
    }
}

pub(super) fn finish_chunk<R: DeserializeOwned>(
    results: Vec<Outcome>,
) -> Result<Vec<Result<R, Exception>>, Exception> {
    Ok(results.into_iter().map(decode_one).collect())
}

impl Pool {
    /// Queues a call, waiting for room as R8 says (`never_wait`: refuse instead).
    pub(super) fn submit_encoded<T: Send + 'static>(
        self: &Arc<Self>,
        job: RemoteJob<T>,
        never_wait: bool,
    ) -> Result<Future<T>, SubmitError> {
        let mut later = Later::default();
        let fut = {
            let mut st = lock(&self.state);
            let mut deadline = None;
            loop {
                if st.shutdown {
                    return Err(SubmitError::Shutdown);
                }
                if let Some(reason) = &st.broken {
                    return Err(SubmitError::Broken(
                        self.settings.kind.broken(reason.clone()),
                    ));
                }
                let Some((max, policy)) = self.settings.bound else {
                    break;
                };
                if st.queue.len() < max {
                    break;
                }
                let policy = match policy {
                    _ if never_wait => WhenFull::Reject,
                    // R8: a reader thread must not wait for room only it can make.
                    WhenFull::Block { .. } if is_pool_thread(self.id) => WhenFull::CallerRuns,
                    p => p,
                };
                match policy {
                    WhenFull::CallerRuns => {
                        drop(st);
                        return Ok(self.run_here(job));
                    }
                    WhenFull::Block { timeout } => {
                        let d = *deadline.get_or_insert_with(|| Deadline::from_timeout(timeout));
                        match crate::sync::wait_until(&self.room, st, d) {
                            Some(g) => st = g,
                            None => return Err(SubmitError::Full { max_queued: max }),
                        }
                    }
                    _ => return Err(SubmitError::Full { max_queued: max }),
                }
            }
            let (fut, task) = task_cell::allocate_job(self.id, job);
            st.queue.push_back(task);
            Counts::bump(&self.counts.submitted);
            self.dispatch(&mut st, &mut later);
            fut
        };
        later.run(self);
        Ok(fut)
    }

    /// `WhenFull::CallerRuns` (R8): the call runs in this process, on this thread, before
    /// the submit returns, as a worker would run it (its panic captured); counted as a run.
    fn run_here<T: Send + 'static>(&self, job: RemoteJob<T>) -> Future<T> {
        Counts::bump(&self.counts.submitted);
        Counts::bump(&self.counts.started);
        let results = job.args.iter().map(|a| child::call(job.name, a)).collect();
        let outcome = crate::unwind::capture(|| (job.finish)(results)).and_then(|r| r);
        self.counts.ended(Ended::of(&outcome));
        let fut = Future::new();
        let _ = match outcome {
            Ok(v) => fut.set_result(v),
            Err(e) => fut.set_exception(e),
        };
        fut
    }

    /// R3: hands queued calls to workers, starting workers as needed.
    pub(super) fn dispatch(self: &Arc<Self>, st: &mut State, later: &mut Later) {
        while st.broken.is_none() && !st.queue.is_empty() {
            let idle = st
                .workers
                .iter()
                .position(|w| w.ready && w.open() && w.inflight.is_empty() && !self.retired(w));
            if let Some(i) = idle {
                self.send_one(st, i, later);
                continue;
            }
            let starting = st.workers.iter().filter(|w| !w.ready && w.open()).count();
            let live = st.workers.iter().filter(|w| w.open()).count();
            if st.queue.len() > starting && live < self.settings.max_workers {
                self.start_worker(st, later);
                continue;
            }
            if starting == 0 {
                let busy = st
                    .workers
                    .iter()
                    .position(|w| w.ready && w.open() && w.inflight.len() == 1 && !self.retired(w));
                if let Some(i) = busy {
                    self.send_one(st, i, later);
                    continue;
                }
            }
            break;
        }
        self.close_finished(st);
        if self.settings.bound.is_some() {
            // R8: there may be room now, or the pool closed or broke.
            plant!("room_not_signalled", (), self.room.notify_all());
        }
    }

    pub(super) fn retired(&self, w: &Slot) -> bool {
        self.settings
            .max_tasks_per_child
            .is_some_and(|m| w.sent >= m)
    }

    /// Claims the first queued task for worker `i` and sends its call.
    pub(super) fn send_one(self: &Arc<Self>, st: &mut State, i: usize, later: &mut Later) {
        let Some(task) = st.queue.pop_front() else {
            return;
        };
        // The claim (PENDING → RUNNING); a cancelled task is dropped here, running no user
        // code (its job holds only bytes).
        task.run(&NoHooks);
        let Some((name, args, task, publish)) = HANDOFF.with(|h| h.borrow_mut().take()) else {
            Counts::bump(&self.counts.cancelled);
            return;
        };
        let id = st.next_call;
        st.next_call += 1;
        let call = protocol::ToWorker::Call {
            id,
            name: name.to_owned(),
            args,
        };
        let frame = match protocol::encode(&call) {
            Ok(frame) => frame,
            Err(reason) => {
                let e = Exception::msg(format!("the call of `{name}` cannot be sent: {reason}"));
                later.publish.push((publish, Reply::Failed(e)));
                return;
            }
        };
        Counts::bump(&self.counts.started);
        let w = &mut st.workers[i];
        w.sent += 1;
        w.inflight.insert(id, (task, publish));
        if let Some(tx) = &w.tx {
            // A closed writer means the worker is ending; its reader breaks the pool (R4),
            // which fails this call with the rest.
            let _ = tx.send(frame);
        }
    }

    pub(super) fn start_worker(self: &Arc<Self>, st: &mut State, later: &mut Later) {
        let key = st.next_key;
        st.next_key += 1;
        match worker::start(self, key) {
            Ok(started) => {
                st.started += 1;
                let mut tx = Some(started.tx);
                if let Some((name, arg)) = &self.settings.initializer {
                    let init = protocol::ToWorker::Init {
                        name: (*name).to_owned(),
                        arg: arg.clone(),
                    };
                    match protocol::encode(&init) {
                        Ok(frame) => {
                            let _ = tx.as_ref().map(|t| t.send(frame));
                        }
                        Err(_) => tx = None,
                    }
                }
                st.workers.push(Slot {
                    key,
                    pid: started.pid,
                    ready: false,
                    tx,
                    inflight: HashMap::new(),
                    sent: 0,
                });
            }
            Err(e) => self.break_pool(
                st,
                format!("{}: {e}", self.settings.launch.describe()),
                later,
            ),
        }
    }

    /// R5, R6: closes the channel of every worker that will get no more calls and has none
    /// left to answer.
    pub(super) fn close_finished(&self, st: &mut State) {
        let nothing_queued = st.queue.is_empty();
        for w in &mut st.workers {
            let done_with = self.retired(w) || (st.shutdown && nothing_queued);
            if w.open() && w.inflight.is_empty() && done_with {
                w.tx = None;
            }
        }
    }

    /// R4: the pool is broken; everything queued or running fails with `reason`.
    pub(super) fn break_pool(&self, st: &mut State, reason: String, later: &mut Later) {
        if st.broken.is_some() {
            return;
        }
        // The reason alone: a refused submit wraps it in the same kind again.
        let reason = self.settings.kind.break_reason(&reason);
        let e = self.settings.kind.broken(reason.clone());
        st.broken = Some(reason);
        for w in &mut st.workers {
            for (_, (_, publish)) in w.inflight.drain() {
                later.publish.push((publish, Reply::Failed(e.clone())));
            }
            // Its channel closes, and the worker exits at once, even mid-task (C2 of
            // `child.rs`); no signal is sent, so no pid its reader already reaped (and the
            // system may reuse) is ever signalled.
            w.tx = None;
        }
        for task in st.queue.drain(..) {
            later.end.push((task, Some(e.clone())));
        }
        self.room.notify_all();
    }

    /// A worker passed its handshake. Its pid stays the one this pool started and its
    /// reader reaps (`child.id()`), whatever the worker says of itself.
    pub(super) fn on_ready(self: &Arc<Self>, key: u64) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            if let Some(w) = st.workers.iter_mut().find(|w| w.key == key) {
                w.ready = true;
            }
            self.dispatch(&mut st, &mut later);
        }
        later.run(self);
    }

    pub(super) fn on_done(self: &Arc<Self>, key: u64, id: u64, results: Vec<Outcome>) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            let publish = st
                .workers
                .iter_mut()
                .find(|w| w.key == key)
                .and_then(|w| w.inflight.remove(&id))
                .map(|(_, publish)| publish);
            if let Some(publish) = publish {
                later.publish.push((publish, Reply::Done(results)));
            }
            self.dispatch(&mut st, &mut later);
        }
        later.run(self);
    }

    /// R7: a cancel was requested for the running task `task`: tell the worker that runs
    /// its call. Nothing to do if the call was answered meanwhile (its reply wins) or the
    /// pool broke (its future is failed already).
    pub(super) fn deliver_request(&self, task: usize) {
        if plant!("cancel_request_not_forwarded", true, false) {
            return;
        }
        let st = lock(&self.state);
        for w in &st.workers {
            let call = w.inflight.iter().find(|(_, (t, _))| *t == task);
            if let (Some((&id, _)), Some(tx)) = (call, &w.tx) {
                if let Ok(frame) = protocol::encode(&protocol::ToWorker::Cancel { id }) {
                    let _ = tx.send(frame);
                }
                return;
            }
        }
    }

    /// A worker's reader reached the end of its channel: the process has ended or is
    /// ending, and will be reaped next, so its pid must not be signalled any more.
    pub(super) fn on_eof(&self, key: u64) {
        let mut st = lock(&self.state);
        if let Some(w) = st.workers.iter_mut().find(|w| w.key == key) {
            w.pid = 0;
        }
    }

    /// Python 3.14's `terminate_workers` / `kill_workers`: shut down without waiting,
    /// cancel what is queued, and signal every live worker. Running futures end with
    /// `BrokenProcessPool` once their workers are seen to end.
    pub(super) fn force_shutdown(self: &Arc<Self>, signal: libc::c_int, name: &'static str) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            st.shutdown = true;
            st.forced = Some(name);
            for task in st.queue.drain(..) {
                later.end.push((task, None));
            }
            self.room.notify_all();
            for w in &st.workers {
                if w.pid != 0 {
                    // SAFETY: kill(2) on a worker this pool started whose reader has not
                    // reached EOF (`pid != 0`, under the lock), so it is not reaped and the
                    // pid is still that process's.
                    unsafe { libc::kill(w.pid as libc::pid_t, signal) };
                }
            }
        }
        later.run(self);
    }

    /// A worker's reader saw it end. `failed`: it broke the protocol or its handshake.
    pub(super) fn on_exit(self: &Arc<Self>, key: u64, how: String, failed: bool) {
        /// Ends the `settling` count `on_exit` raised, also if settling unwinds.
        struct Settled<'a>(&'a Pool);
        impl Drop for Settled<'_> {
            fn drop(&mut self) {
                lock(&self.0.state).settling -= 1;
                self.0.changed.notify_all();
            }
        }
        let mut later = Later::default();
        let mut settling = None;
        {
            let mut st = lock(&self.state);
            if let Some(i) = st.workers.iter().position(|w| w.key == key) {
                let w = st.workers.swap_remove(i);
                let told_to = !w.open() && w.inflight.is_empty();
                if failed || !told_to {
                    let how = match st.forced {
                        Some(op) => format!("the pool was forcefully shut down ({op}): {how}"),
                        None => how,
                    };
                    st.workers.push(w); // break_pool fails its calls too
                    self.break_pool(&mut st, how, &mut later);
                    st.workers.retain(|w| w.key != key);
                } else {
                    self.dispatch(&mut st, &mut later);
                }
                // Until its futures are settled below, a shutdown does not count it done.
                st.settling += 1;
                settling = Some(Settled(self));
            }
            self.changed.notify_all();
        }
        later.run(self);
        drop(settling);
    }

    pub(super) fn shutdown(self: &Arc<Self>, wait: bool, cancel_futures: bool) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            st.shutdown = true;
            if cancel_futures {
                for task in st.queue.drain(..) {
                    later.end.push((task, None));
                }
            }
            self.dispatch(&mut st, &mut later);
        }
        later.run(self);
        // A reader thread (a callback run by it) cannot wait for workers to end: it is the
        // one that would see them end.
        if wait && !is_pool_thread(self.id) {
            let mut st = lock(&self.state);
            while !st.quiet() {
                st = crate::sync::wait(&self.changed, st);
            }
            drop(st);
            if let Some(finish) = &self.settings.finisher {
                finish();
            }
        }
    }

    /// Starts every worker now (an attached pool's ranks: a rank that does not answer is
    /// found at once, not at its first call).
    #[cfg(feature = "mpi")]
    pub(super) fn start_all(self: &Arc<Self>) {
        let mut later = Later::default();
        {
            let mut st = lock(&self.state);
            for _ in 0..self.settings.max_workers {
                if st.broken.is_none() {
                    self.start_worker(&mut st, &mut later);
                }
            }
        }
        later.run(self);
    }
}
