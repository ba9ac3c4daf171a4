-- :ResponsesSession compact against a slow compaction endpoint: the command is answered at
-- once ("compacting the session…"), the compaction's end arrives as `responsesLsp/jobDone`
-- and is shown ("compacted: N → M tokens"), and it leaves the action's undo step alone.
local H = dofile(vim.env.RLSP_HARNESS)
local case = vim.json.decode(H.read('case.json'))

H.configure({ single_undo = true, progress = false })
H.run(function()
  local bufnr = H.open(case.file)
  local source = H.read(case.file)
  local expected = H.read('expected.txt')
  local messages = {}
  local inner = vim.notify
  vim.notify = function(message, level, opts) ---@diagnostic disable-line: duplicate-set-field
    table.insert(messages, { text = message, at = vim.uv.now() })
    return inner(message, level, opts)
  end
  local function said(prefix)
    for _, m in ipairs(messages) do
      if m.text:sub(1, #prefix) == prefix then
        return m
      end
    end
  end
  local results = H.job_results()
  H.keys(('%dGV%dG:ResponsesAction refactor-to-async<CR>'):format(case.first, case.last))
  H.wait('the job to finish', function()
    return #results > 0
  end)
  H.check('outcome', results[1].result.outcome, 'applied')
  H.check('buffer text', H.text(bufnr), expected)

  local asked = vim.uv.now()
  H.keys('<Esc>:ResponsesSession compact<CR>')
  H.wait('the compact command to be answered', function()
    return said('responses-lsp: compacting the session') ~= nil
  end, 1000)
  H.log('answered after %d ms', said('responses-lsp: compacting').at - asked)
  H.wait('the compaction to end', function()
    return said('responses-lsp: compacted: ') ~= nil
  end, 15000)
  local done = said('responses-lsp: compacted: ')
  H.log('%s after %d ms', done.text, done.at - asked)
  H.check('the end came after the slow endpoint', done.at - asked >= case.delay_ms - 200, true)
  H.check('compaction is not an edit job', #results, 1)
  H.keys('u')
  H.check('one u still restores the original', H.text(bufnr), source)
end, 40000)
