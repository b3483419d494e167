/**
 * Lua scripts run atomically inside Redis. Times come from Redis `TIME`, so every server measures answers
 * on the same clock and a client cannot claim its own answer time. Keys are the quiz's (one hash slot).
 */

/** The time in epoch ms from Redis. */
const NOW = 'local t = redis.call(\'TIME\'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)';

/**
 * KEYS: meta, names. ARGV: userId, name, ttl seconds, mode ('join' | 'rename'), most participants.
 * Returns {status, participants}.
 */
export const JOIN = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown_quiz', 0} end
if state ~= 'created' then return {'already_started', 0} end
if ARGV[4] == 'rename' and redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return {'not_participant', 0} end
if ARGV[4] == 'join' and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[5]) then return {'quiz_full', 0} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
return {'ok', redis.call('HLEN', KEYS[2])}
`;

/**
 * KEYS: meta, names, leaderboard, questions, next, available, answers, stopped, counts.
 * ARGV: quizName, categories JSON, duration ms, n, questions JSON, ttl seconds.
 * Returns {status, startTime, deadline}.
 */
export const START = `
${NOW}
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'unknown_quiz', 0, 0} end
if state ~= 'created' then return {'already_started', 0, 0} end
local names = redis.call('HKEYS', KEYS[2])
if #names == 0 then return {'no_participants', 0, 0} end
local deadline = now + tonumber(ARGV[3]) * tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'state', 'started', 'name', ARGV[1], 'categories', ARGV[2], 'duration', ARGV[3], 'n', ARGV[4], 'startTime', now, 'deadline', deadline)
redis.call('SET', KEYS[4], ARGV[5])
for _, id in ipairs(names) do redis.call('ZADD', KEYS[3], 0, id) end
for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], tonumber(ARGV[6])) end
return {'ok', now, deadline}
`;

/**
 * One participant's move. KEYS: meta, names, leaderboard, next, available, answers, stopped, counts.
 * ARGV: userId, kind ('peek' | 'answer' | 'timeout'), questionIndex, fraction, outcome if in time, selected JSON, ttl.
 * First every question whose time ran out becomes a timeout (its clock ended, so the next one started
 * then). 'peek' stops there; 'answer' and 'timeout' act on the current question only; an answer to a question whose time ran out is 'late' (a timeout).
 * Returns {status, index, availableAt, now, outcome, answerMs, points, score, finishedNow, finished, participants}.
 */
export const STEP = `
${NOW}
local uid = ARGV[1]
local meta = redis.call('HMGET', KEYS[1], 'state', 'duration', 'n', 'startTime')
if not meta[1] then return {'unknown_quiz'} end
if meta[1] == 'created' then return {'not_started'} end
if meta[1] == 'finished' then return {'quiz_finished'} end
if redis.call('HEXISTS', KEYS[2], uid) == 0 then return {'not_participant'} end
local dur = tonumber(meta[2])
local n = tonumber(meta[3])
local i = tonumber(redis.call('HGET', KEYS[4], uid) or '0')
local avail = tonumber(redis.call('HGET', KEYS[5], uid) or meta[4])
local finishedNow = 0
local function record(index, selected, ms, pts, outcome)
  redis.call('HSET', KEYS[6], uid .. ':' .. index, '{"s":' .. selected .. ',"ms":' .. ms .. ',"p":' .. pts .. ',"o":"' .. outcome .. '"}')
  redis.call('HINCRBY', KEYS[8], index .. ':' .. outcome, 1)
end
local function finishIfDone(at)
  if i >= n and redis.call('HSETNX', KEYS[7], uid, at) == 1 then finishedNow = 1 end
end
while i < n and now > avail + dur do
  record(i, '[]', dur, 0, 'timeout')
  avail = avail + dur
  i = i + 1
end
finishIfDone(avail)
local outcome = ''
local ms = 0
local pts = 0
local status = 'ok'
local asked = tonumber(ARGV[3])
if ARGV[2] ~= 'peek' and asked < i and string.find(redis.call('HGET', KEYS[6], uid .. ':' .. asked) or '', '"o":"timeout"', 1, true) then
  status = 'late'
  outcome = 'timeout'
  ms = dur
elseif i >= n then
  status = 'done'
elseif ARGV[2] ~= 'peek' then
  if asked ~= i then
    status = 'wrong_question'
  else
    ms = now - avail
    if ARGV[2] == 'timeout' then
      outcome = 'timeout'
      ms = dur
    else
      outcome = ARGV[5]
      pts = math.floor((100 * tonumber(ARGV[4]) * (dur - ms) / dur) * 100 + 0.5) / 100
      if pts > 0 then redis.call('ZINCRBY', KEYS[3], pts, uid) end
    end
    record(i, ARGV[2] == 'timeout' and '[]' or ARGV[6], ms, pts, outcome)
    i = i + 1
    avail = now
    finishIfDone(now)
  end
end
redis.call('HSET', KEYS[4], uid, i)
redis.call('HSET', KEYS[5], uid, avail)
for k = 4, #KEYS do redis.call('EXPIRE', KEYS[k], tonumber(ARGV[7])) end
local score = redis.call('ZSCORE', KEYS[3], uid) or '0'
return {status, i, avail, now, outcome, ms, tostring(pts), score, finishedNow, redis.call('HLEN', KEYS[7]), redis.call('HLEN', KEYS[2])}
`;

/** KEYS: meta. Marks a started quiz finished. Returns its stop time, or 0 when it was not running. */
export const FINISH = `
${NOW}
if redis.call('HGET', KEYS[1], 'state') ~= 'started' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'finished', 'stopTime', now)
return now
`;

/**
 * KEYS: pending-results. ARGV: lease ms. Takes the oldest due quiz and pushes its next try out by the
 * lease, so one server works on it at a time (a server that dies leaves it due again). Returns the id or nil.
 */
export const CLAIM = `
${NOW}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then return false end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), due[1])
return due[1]
`;
